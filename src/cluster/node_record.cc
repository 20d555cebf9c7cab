#include "cluster/node_record.h"

#include <cctype>

#include "base/key_values.h"
#include "base/sha256_text.h"

namespace vessel::cluster {

using json::Json;

Result<void> check_node_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 && name.front() != '-' && name.back() != '-';
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok)
    return Unexpected(Error(EINVAL, fmt::format("invalid node name \"{}\"", name))
                          .with_hint("a node name is 1-63 lower-case letters, digits and '-', like a host name"));
  return {};
}

namespace {
bool label_text(const std::string& s) {
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '/' || c == '-')) return false;
  return s.size() <= 253;
}
}  // namespace

Result<std::map<std::string, std::string>> parse_labels(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& [item, key, value, has_value] : split_key_values(text)) {
    if (key.empty() || !has_value || !label_text(key) || !label_text(value))
      return Unexpected(Error(EINVAL, fmt::format("invalid label \"{}\"", item))
                            .with_hint("labels are KEY=VALUE,... of letters, digits and . _ / -"));
    out[key] = value;
  }
  return out;
}

Json node_info_json(const NodeInfo& info) {
  Json j = {{"name", info.name},           {"advertise", info.advertise}, {"labels", info.labels},
            {"cpus", info.cpus},           {"memory_mib", info.memory_mib}, {"version", info.version},
            {"joined", info.joined}};
  if (!info.tls_pubkey_sha256.empty())
    j["tls"] = {{"pubkey_sha256", info.tls_pubkey_sha256}, {"cert_sha256", info.tls_cert_sha256}};
  return j;
}

namespace {
// "tls": {"pubkey_sha256", "cert_sha256"}: both, lower-case hex, or neither.
Result<void> parse_tls(const Json& j, NodeInfo& info) {
  auto it = j.find("tls");
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_object()) return fail(EINVAL, "node.tls: expected an object");
  info.tls_pubkey_sha256 = TRY(json::get_string(*it, "node.tls", "pubkey_sha256"));
  info.tls_cert_sha256 = TRY(json::get_string(*it, "node.tls", "cert_sha256"));
  if (!is_sha256_hex(info.tls_pubkey_sha256) || !is_sha256_hex(info.tls_cert_sha256))
    return fail(EINVAL, "node.tls: pubkey_sha256 and cert_sha256 must be SHA-256 digests in lower-case hex");
  return {};
}
}  // namespace

Result<NodeInfo> parse_node_info(std::string_view text) {
  auto j = TRY_CTX(json::parse(text, 1 << 20), "node record");
  NodeInfo info;
  info.name = TRY(json::get_string(j, "node", "name"));
  info.advertise = TRY(json::opt_string(j, "node", "advertise")).value_or("");
  info.version = TRY(json::opt_string(j, "node", "version")).value_or("");
  info.joined = TRY(json::opt_string(j, "node", "joined")).value_or("");
  info.memory_mib = TRY(json::opt_uint(j, "node", "memory_mib")).value_or(0);
  if (auto it = j.find("cpus"); it != j.end()) {
    if (!it->is_number()) return fail(EINVAL, "node.cpus: expected a number");
    info.cpus = it->get<double>();
  }
  if (auto it = j.find("labels"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return fail(EINVAL, "node.labels: expected an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return fail(EINVAL, "node.labels.{}: expected a string", k);
      info.labels[k] = v.get<std::string>();
    }
  }
  TRY(parse_tls(j, info));
  return info;
}

Json node_status_json(const NodeStatus& s) {
  Json j = node_info_json(s.info);
  j["ready"] = s.ready;
  j["cordoned"] = s.cordoned;
  j["status"] = !s.ready ? "not-ready" : s.cordoned ? "cordoned" : "ready";
  if (s.lease != 0) j["lease"] = std::to_string(s.lease);
  return j;
}

}  // namespace vessel::cluster
