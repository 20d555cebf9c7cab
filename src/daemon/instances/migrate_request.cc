#include "daemon/instances/migrate_request.h"

#include "cluster/node_record.h"
#include "daemon/network/network_spec.h"

namespace vessel::daemon {

namespace {

Result<json::Json> object(std::string_view body, std::string_view what) {
  auto j = TRY_CTX(json::parse(body, 1 << 20), "{}", what);
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", what, json::type_name(j));
  return j;
}

// An absolute path that fits a sockaddr_un, without NUL or a `..` component.
Result<std::string> socket_path(std::string_view path, std::string_view what) {
  if (path.empty() || path[0] != '/') return fail(EINVAL, "{}: '{}' is not an absolute path", what, path.substr(0, 200));
  if (path.size() > 107) return fail(EINVAL, "{}: a socket path is at most 107 bytes, this one is {}", what, path.size());
  if (path.find('\0') != std::string_view::npos) return fail(EINVAL, "{}: the path holds a NUL byte", what);
  std::string p(path);
  if (p.find("/../") != std::string::npos || p.ends_with("/..")) return fail(EINVAL, "{}: '{}' has a '..'", what, p);
  return p;
}

}  // namespace

Result<Destination> parse_destination(std::string_view text) {
  Destination d;
  if (text == "local") {
    d.kind = Destination::Kind::Local;
    return d;
  }
  if (text.starts_with("https://") || text.starts_with("tcp:"))
    return Unexpected(Error(ENOTSUP, fmt::format("destination {}: migration to another host is not built yet", text))
                          .with_hint("give the Unix socket of a vesseld on this host (unix:/PATH), or `local`"));
  if (text.starts_with("unix:")) text.remove_prefix(5);
  if (text.empty() || text[0] != '/')
    return Unexpected(Error(EINVAL, fmt::format("destination '{}': expected unix:/PATH (a vesseld's socket) or local",
                                                text.substr(0, 200)))
                          .with_hint("vessel migrate NAME --to /run/other-vessel/vessel.sock"));
  d.socket = TRY(socket_path(text, "destination"));
  return d;
}

Result<MigrateRequest> parse_migrate_request(std::string_view body) {
  auto j = TRY(object(body, "migrate request"));
  TRY(json::reject_unknown(j, "migrate", {"destination", "downtime_ms", "max_rounds"}));
  MigrateRequest r;
  auto dest = TRY(json::opt_string(j, "migrate", "destination"));
  if (!dest) return fail(EINVAL, "migrate.destination: missing");
  r.destination = TRY_CTX(parse_destination(*dest), "migrate");
  auto downtime = TRY(json::opt_uint(j, "migrate", "downtime_ms"));
  if (downtime && (*downtime < 1 || *downtime > 60000)) return fail(EINVAL, "migrate.downtime_ms: {} is not in 1..60000", *downtime);
  if (downtime) r.downtime_ms = static_cast<uint32_t>(*downtime);
  auto rounds = TRY(json::opt_uint(j, "migrate", "max_rounds"));
  if (rounds && *rounds > 1000) return fail(EINVAL, "migrate.max_rounds: {} is over 1000", *rounds);
  if (rounds) r.max_rounds = static_cast<uint32_t>(*rounds);
  return r;
}

json::Json to_json(const MigrateRequest& r) {
  return {{"destination", r.destination.text()}, {"downtime_ms", r.downtime_ms}, {"max_rounds", r.max_rounds}};
}

Result<void> check_migratable_spec(const InstanceSpec& spec) {
  if (spec.type != InstanceType::Vm)
    return Unexpected(Error(ENOTSUP, fmt::format("{} is a container: containers are not live-migrated", spec.name))
                          .with_hint(fmt::format("checkpoint it (vessel checkpoint --export FILE {}) and restore it "
                                                 "elsewhere with --import",
                                                 spec.name)));
  if (!spec.network.empty() && spec.network != kNetworkNone)
    return Unexpected(Error(ENOTSUP, fmt::format("{} is on network {}: a VM with a network interface cannot be migrated "
                                                 "yet (its tap is not handed over)",
                                                 spec.name, spec.network))
                          .with_hint("suspend and resume it instead, or run it with --network none"));
  return {};
}

Result<void> check_migratable_disks(const std::string& name, const std::vector<DiskSpec>& disks,
                                    const std::string& instance_dir) {
  std::string inside = instance_dir + "/";
  for (size_t i = 0; i < disks.size(); ++i) {
    const auto& d = disks[i];
    if (d.path.starts_with(inside))
      return Unexpected(Error(ENOTSUP, fmt::format("{}: disk {} ({}) lives in the instance's directory on this vesseld; "
                                                   "block migration is not built",
                                                   name, i, d.path))
                            .with_hint("only VMs whose disks are files on shared storage (the same path on both "
                                       "sides) migrate today; suspend and resume it instead"));
  }
  return {};
}

Result<InstanceSpec> parse_incoming_request(std::string_view body) {
  auto j = TRY(object(body, "incoming migration"));
  TRY(json::reject_unknown(j, "incoming", {"spec"}));
  if (!j.contains("spec") || !j["spec"].is_object()) return fail(EINVAL, "incoming.spec: missing or not an object");
  auto spec = TRY_CTX(parse_spec(j["spec"]), "incoming.spec");
  TRY_CTX(check_migratable_spec(spec), "incoming");
  return spec;
}

Result<IncomingAnswer> parse_incoming_answer(std::string_view body) {
  auto j = TRY(object(body, "the destination's answer"));
  IncomingAnswer a;
  auto name = TRY(json::opt_string(j, "answer", "name"));
  auto url = TRY(json::opt_string(j, "answer", "url"));
  if (!name || !url) return fail(EPROTO, "the destination's answer has no name or url");
  TRY_CTX(validate_name(*name), "the destination's answer");
  if (!url->starts_with("unix:")) return fail(EPROTO, "the destination's url '{}' is not unix:PATH", url->substr(0, 200));
  a.socket = TRY_CTX(socket_path(std::string_view(*url).substr(5), "url"), "the destination's answer");
  a.name = *name;
  a.url = *url;
  return a;
}

Result<std::string> parse_cluster_move_request(std::string_view body) {
  if (body.empty()) return std::string();
  auto j = TRY(json::parse(body, 1 << 16, 4));
  if (!j.is_object()) return fail(EINVAL, "migrate: expected a JSON object");
  if (j.contains("destination"))
    return Unexpected(Error(EINVAL, "a clustered instance moves to a node, not to a socket")
                          .with_hint("vessel migrate NAME --to NODE (see vessel cluster ls)"));
  TRY(json::reject_unknown(j, "migrate", {"node"}));
  std::string node = TRY(json::opt_string(j, "migrate", "node")).value_or("");
  if (!node.empty()) TRY(cluster::check_node_name(node));
  return node;
}

}  // namespace vessel::daemon
