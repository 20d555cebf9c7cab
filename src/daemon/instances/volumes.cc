#include "daemon/instances/volumes.h"

#include <fmt/ranges.h>

#include <filesystem>

#include "daemon/spec/spec.h"

namespace vessel::daemon {

namespace fs = std::filesystem;

namespace {

uint64_t bytes_under(const std::string& dir) {
  std::error_code ec;
  uint64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) total += it->file_size(size_ec);
  }
  return total;
}

}  // namespace

Result<VolumeRequest> parse_volume_request(std::string_view body) {
  auto j = TRY_CTX(json::parse(body, 1 << 16), "volume");
  if (!j.is_object()) return fail(EINVAL, "volume: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "volume", {"name", "labels"}));
  VolumeRequest r;
  r.name = TRY(json::get_string(j, "volume", "name"));
  TRY_CTX(validate_name(r.name), "volume.name");
  if (j.contains("labels")) r.labels = TRY(parse_string_map(j["labels"], "volume.labels"));
  return r;
}

Result<json::Json> Volumes::create(const std::string& name, const std::map<std::string, std::string>& labels) {
  std::lock_guard lock(mutex_);
  return create_locked(name, labels);
}

Result<json::Json> Volumes::create_locked(const std::string& name, const std::map<std::string, std::string>& labels) {
  TRY_CTX(validate_name(name), "volume name");
  std::error_code ec;
  fs::create_directories(mountpoint(name), ec);
  if (ec) return fail(ec.value(), "create volume {}: {}", name, mountpoint(name));
  json::Json spec = {{"labels", labels}};
  if (auto inserted = store_.insert_volume({name, spec.dump(), 0}); !inserted) {
    if (inserted.error().errnum() != EEXIST) fs::remove_all(dir_ + "/" + name, ec);
    return Unexpected(std::move(inserted).error());
  }
  auto row = TRY(store_.get_volume(name));
  if (!row) return fail(ENOENT, "no volume named {}", name);
  return describe(*row, {});
}

Result<std::string> Volumes::ensure(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (!TRY(store_.get_volume(name))) TRY(create_locked(name, {}));
  std::error_code ec;
  fs::create_directories(mountpoint(name), ec);  // its files were removed behind vesseld's back
  if (ec) return fail(ec.value(), "volume {}: {}", name, mountpoint(name));
  return mountpoint(name);
}

Result<std::map<std::string, std::vector<std::string>>> Volumes::users() {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& row : TRY(store_.list_instances())) {
    auto spec = parse_spec_text(row.spec);
    if (!spec) continue;
    for (const auto& m : spec->mounts)
      if (m.kind == MountKind::Volume) out[m.source].push_back(row.name);
  }
  return out;
}

Result<json::Json> Volumes::describe(const VolumeRow& row, const std::map<std::string, std::vector<std::string>>& users) {
  auto spec = json::parse(row.spec).value_or(json::Json::object());
  auto used = users.find(row.name);
  return json::Json{{"name", row.name},
                    {"driver", "local"},
                    {"mountpoint", mountpoint(row.name)},
                    {"labels", spec.value("labels", json::Json::object())},
                    {"created_at", row.created_at},
                    {"used_by", used == users.end() ? std::vector<std::string>{} : used->second}};
}

Result<json::Json> Volumes::list() {
  auto used = TRY(users());
  json::Json out = json::Json::array();
  for (const auto& row : TRY(store_.list_volumes())) out.push_back(TRY(describe(row, used)));
  return out;
}

Result<json::Json> Volumes::inspect(const std::string& name) {
  auto row = TRY(store_.get_volume(name));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no volume named {}", name)).with_hint("see `vessel volume ls`"));
  return describe(*row, TRY(users()));
}

Result<void> Volumes::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto used = TRY(users());
  auto it = used.find(name);
  return remove_locked(name, it == used.end() ? std::vector<std::string>{} : it->second);
}

Result<void> Volumes::remove_locked(const std::string& name, const std::vector<std::string>& users) {
  if (!TRY(store_.get_volume(name)))
    return Unexpected(Error(ENOENT, fmt::format("no volume named {}", name)).with_hint("see `vessel volume ls`"));
  if (!users.empty())
    return Unexpected(Error(EBUSY, fmt::format("volume {} is in use by {}", name, fmt::join(users, ", ")))
                          .with_hint("remove those instances first (`vessel rm`)"));
  TRY(store_.delete_volume(name));
  std::error_code ec;
  fs::remove_all(dir_ + "/" + name, ec);
  if (ec) return fail(ec.value(), "volume {} is forgotten, but its files remain in {}", name, dir_ + "/" + name);
  return {};
}

Result<json::Json> Volumes::prune() {
  std::lock_guard lock(mutex_);
  auto used = TRY(users());
  json::Json deleted = json::Json::array();
  uint64_t reclaimed = 0;
  for (const auto& row : TRY(store_.list_volumes())) {
    if (used.count(row.name)) continue;
    uint64_t bytes = bytes_under(dir_ + "/" + row.name);
    TRY(remove_locked(row.name, {}));
    deleted.push_back(row.name);
    reclaimed += bytes;
  }
  return json::Json{{"deleted", deleted}, {"space_reclaimed", reclaimed}};
}

}  // namespace vessel::daemon
