#include "daemon/instances/snapshot_meta.h"

#include <algorithm>

namespace vessel::daemon {

namespace {

// Files a snapshot names are the instance's own: under DIR/disks/, no "..".
Result<std::string> inside(const json::Json& j, const char* key, const std::string& dir) {
  std::string path = TRY(json::get_string(j, "snapshot disk", key));
  std::string prefix = dir + "/disks/";
  if (!path.starts_with(prefix) || path.find("/..") != std::string::npos || path.find("/./") != std::string::npos)
    return fail(EINVAL, "snapshot disk {} {} is not under {}", key, path, prefix);
  return path;
}

}  // namespace

json::Json to_json(const SnapshotMeta& m) {
  json::Json disks = json::Json::array();
  for (const auto& d : m.disks) disks.push_back({{"top", d.top}, {"layer", d.layer}});
  return {{"name", m.name}, {"created", m.created}, {"memory", m.memory}, {"disks", disks}};
}

Result<SnapshotMeta> snapshot_meta_from_json(const json::Json& j, const std::string& dir) {
  if (!j.is_object()) return fail(EINVAL, "snapshot.json: expected an object");
  SnapshotMeta m;
  m.name = TRY(json::get_string(j, "snapshot", "name"));
  TRY(check_snapshot_name(m.name));
  if (!j.contains("created") || !j["created"].is_number_integer()) return fail(EINVAL, "snapshot.created: expected an integer");
  m.created = j["created"].get<int64_t>();
  if (!j.contains("memory") || !j["memory"].is_boolean()) return fail(EINVAL, "snapshot.memory: expected a boolean");
  m.memory = j["memory"].get<bool>();
  if (!j.contains("disks") || !j["disks"].is_array()) return fail(EINVAL, "snapshot.disks: expected an array");
  if (j["disks"].size() > 64) return fail(EINVAL, "snapshot.disks: too many");
  for (const auto& d : j["disks"]) {
    if (!d.is_object()) return fail(EINVAL, "snapshot.disks: expected objects");
    // One TRY per statement: a return from inside a braced list skips the destructors of the
    // members already made (a leak ASan sees).
    auto top = TRY(inside(d, "top", dir));
    auto layer = TRY(inside(d, "layer", dir));
    m.disks.push_back({std::move(top), std::move(layer)});
  }
  return m;
}

Result<void> check_snapshot_name(const std::string& name) {
  auto bad = [&](const char* why) {
    return Unexpected(Error(EINVAL, fmt::format("snapshot name '{}' {}", name, why))
                          .with_hint("use 1-63 letters, digits, '_', '.' or '-', not starting with '.' or '-'"));
  };
  if (name.empty() || name.size() > 63) return bad("is empty or longer than 63 characters");
  if (name[0] == '.' || name[0] == '-') return bad("starts with '.' or '-'");
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return bad("has a character other than letters, digits, '_', '.', '-'");
  return {};
}

std::string default_snapshot_name(const std::vector<std::string>& taken) {
  for (size_t n = 0;; ++n) {
    std::string name = "snap" + std::to_string(n);
    if (std::find(taken.begin(), taken.end(), name) == taken.end()) return name;
  }
}

}  // namespace vessel::daemon
