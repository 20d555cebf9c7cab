#include "daemon/instances/migrate_request.h"

#include <arpa/inet.h>

#include "base/random_hex.h"
#include "base/sha256_text.h"
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

// https://HOST:PORT, HOST a name, an IPv4 address or [IPv6].
Result<Destination> remote_destination(std::string_view text) {
  Destination d;
  d.kind = Destination::Kind::Remote;
  std::string url(text);
  while (url.size() > 8 && url.back() == '/') url.pop_back();
  std::string rest = url.substr(8);
  size_t colon = rest.rfind(':');
  bool bracketed = !rest.empty() && rest[0] == '[';
  if (bracketed && (colon == std::string::npos || colon == 0 || rest[colon - 1] != ']')) colon = std::string::npos;
  std::string port = colon == std::string::npos ? "" : rest.substr(colon + 1);
  d.host = colon == std::string::npos ? "" : rest.substr(bracketed ? 1 : 0, colon - (bracketed ? 2 : 0));
  bool port_ok = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos &&
                 std::stoul(port) >= 1 && std::stoul(port) <= 65535;
  bool host_ok = !d.host.empty() && d.host.size() <= 253 &&
                 d.host.find_first_of("/?#@ \t\n\r") == std::string::npos && d.host.find('\0') == std::string::npos;
  if (!port_ok || !host_ok || url.size() > 300)
    return Unexpected(Error(EINVAL, fmt::format("destination '{}': expected https://HOST:PORT", url.substr(0, 200)))
                          .with_hint("the address of a vesseld started with --listen tcp://ADDR:PORT"));
  d.url = url;
  return d;
}

}  // namespace

Result<void> check_numeric_address(std::string_view address, std::string_view what) {
  std::string a(address.substr(0, 64));
  unsigned char buf[sizeof(in6_addr)];
  if (address.size() < 64 && (::inet_pton(AF_INET, a.c_str(), buf) == 1 || ::inet_pton(AF_INET6, a.c_str(), buf) == 1))
    return {};
  return fail(EINVAL, "{}: '{}' is not a numeric IPv4 or IPv6 address", what, a);
}

std::string tcp_url(const std::string& address, uint16_t port) {
  bool v6 = address.find(':') != std::string::npos;
  return fmt::format("tcp:{}{}{}:{}", v6 ? "[" : "", address, v6 ? "]" : "", port);
}

Result<Destination> parse_destination(std::string_view text) {
  Destination d;
  if (text == "local") {
    d.kind = Destination::Kind::Local;
    return d;
  }
  if (text.starts_with("https://")) return remote_destination(text);
  if (text.starts_with("tcp:"))
    return Unexpected(Error(EINVAL, fmt::format("destination {}: a vesseld is reached on its API, not a raw stream", text))
                          .with_hint("give https://HOST:PORT of a vesseld serving --listen, or unix:/PATH on this host"));
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
  TRY(json::reject_unknown(j, "migrate", {"destination", "destination_pubkey_sha256", "stream", "downtime_ms", "max_rounds"}));
  MigrateRequest r;
  auto dest = TRY(json::opt_string(j, "migrate", "destination"));
  if (!dest) return fail(EINVAL, "migrate.destination: missing");
  r.destination = TRY_CTX(parse_destination(*dest), "migrate");
  auto pin = TRY(json::opt_string(j, "migrate", "destination_pubkey_sha256"));
  bool remote = r.destination.kind == Destination::Kind::Remote;
  if (pin && !remote) return fail(EINVAL, "migrate.destination_pubkey_sha256: only for an https:// destination");
  if (remote && !pin)
    return Unexpected(Error(EINVAL, "migrate.destination_pubkey_sha256: missing: how the destination is trusted")
                          .with_hint("its STATE_DIR/tls/server.fingerprint (vessel migrate --to-fingerprint)"));
  if (pin) {
    if (!is_sha256_hex(*pin))
      return fail(EINVAL, "migrate.destination_pubkey_sha256: expected 64 lower-case hex digits");
    r.destination.pubkey_sha256 = *pin;
  }
  if (auto stream = TRY(json::opt_string(j, "migrate", "stream"))) {
    if (!remote) return fail(EINVAL, "migrate.stream: only for an https:// destination (on one host the stream is a Unix socket)");
    if (*stream != "tls" && *stream != "tcp") return fail(EINVAL, "migrate.stream: '{}' is neither tls nor tcp", stream->substr(0, 50));
    r.stream = *stream == "tcp" ? MigrationStream::Tcp : MigrationStream::Tls;
  }
  auto downtime = TRY(json::opt_uint(j, "migrate", "downtime_ms"));
  if (downtime && (*downtime < 1 || *downtime > 60000)) return fail(EINVAL, "migrate.downtime_ms: {} is not in 1..60000", *downtime);
  if (downtime) r.downtime_ms = static_cast<uint32_t>(*downtime);
  auto rounds = TRY(json::opt_uint(j, "migrate", "max_rounds"));
  if (rounds && *rounds > 1000) return fail(EINVAL, "migrate.max_rounds: {} is over 1000", *rounds);
  if (rounds) r.max_rounds = static_cast<uint32_t>(*rounds);
  return r;
}

json::Json to_json(const MigrateRequest& r) {
  json::Json j{{"destination", r.destination.text()}, {"downtime_ms", r.downtime_ms}, {"max_rounds", r.max_rounds}};
  if (!r.destination.pubkey_sha256.empty()) j["destination_pubkey_sha256"] = r.destination.pubkey_sha256;
  if (r.destination.kind == Destination::Kind::Remote) j["stream"] = r.stream == MigrationStream::Tcp ? "tcp" : "tls";
  return j;
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

Result<IncomingRequest> parse_incoming_request(std::string_view body) {
  auto j = TRY(object(body, "incoming migration"));
  TRY(json::reject_unknown(j, "incoming", {"spec", "receive_on", "stream"}));
  if (!j.contains("spec") || !j["spec"].is_object()) return fail(EINVAL, "incoming.spec: missing or not an object");
  IncomingRequest r;
  r.spec = TRY_CTX(parse_spec(j["spec"]), "incoming.spec");
  TRY_CTX(check_migratable_spec(r.spec), "incoming");
  if (auto on = TRY(json::opt_string(j, "incoming", "receive_on"))) {
    TRY(check_numeric_address(*on, "incoming.receive_on"));
    r.receive_on = *on;
  }
  if (auto stream = TRY(json::opt_string(j, "incoming", "stream"))) {
    if (*stream != "tls") return fail(EINVAL, "incoming.stream: '{}' is not tls", stream->substr(0, 50));
    if (r.receive_on.empty()) return fail(EINVAL, "incoming.stream: tls needs receive_on (the address it listens on)");
    r.tls = true;
  }
  return r;
}

namespace {
// tcp:ADDRESS:PORT (or tls:) as the destination answers it (numeric, [IPv6] bracketed).
Result<void> check_tcp_url(std::string_view url) {
  std::string_view rest = url.substr(4);
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return fail(EPROTO, "the destination's url '{}' has no port", url.substr(0, 200));
  std::string_view host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  TRY_CTX(check_numeric_address(host, "url"), "the destination's answer");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoul(std::string(port)) < 1 || std::stoul(std::string(port)) > 65535)
    return fail(EPROTO, "the destination's url '{}' has no valid port", url.substr(0, 200));
  return {};
}
}  // namespace

Result<IncomingAnswer> parse_incoming_answer(std::string_view body) {
  auto j = TRY(object(body, "the destination's answer"));
  IncomingAnswer a;
  auto name = TRY(json::opt_string(j, "answer", "name"));
  auto url = TRY(json::opt_string(j, "answer", "url"));
  if (!name || !url) return fail(EPROTO, "the destination's answer has no name or url");
  TRY_CTX(validate_name(*name), "the destination's answer");
  if (url->starts_with("tcp:")) {
    TRY(check_tcp_url(*url));
    auto token = TRY(json::opt_string(j, "answer", "token"));
    if (!token || !is_lower_hex(*token, kMigrationTokenBytes))
      return fail(EPROTO, "the destination's answer names a TCP receiver without its token (64 hex digits)");
    a.token = *token;
  } else if (url->starts_with("unix:")) {
    a.socket = TRY_CTX(socket_path(std::string_view(*url).substr(5), "url"), "the destination's answer");
  } else if (url->starts_with("tls:")) {
    TRY(check_tcp_url(*url));
    a.tls = "https://" + url->substr(4);
  } else {
    return fail(EPROTO, "the destination's url '{}' is neither unix:PATH, tcp:ADDRESS:PORT nor tls:ADDRESS:PORT",
                url->substr(0, 200));
  }
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
