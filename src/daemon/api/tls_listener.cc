#include "daemon/api/tls_listener.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/log.h"
#include "daemon/api/router.h"

namespace vessel::daemon {

Result<TcpAddress> parse_listen_address(const std::string& text) {
  const std::string scheme = "tcp://";
  if (text.compare(0, scheme.size(), scheme) != 0)
    return Unexpected(Error(EINVAL, fmt::format("--listen {}: expected tcp://ADDR:PORT", text)).with_hint("e.g. tcp://0.0.0.0:8443"));
  std::string rest = text.substr(scheme.size());
  TcpAddress a;
  size_t colon;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return fail(EINVAL, "--listen {}: expected tcp://[IPV6]:PORT", text);
    a.host = rest.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string::npos) return fail(EINVAL, "--listen {}: no port", text);
    a.host = rest.substr(0, colon);
  }
  std::string port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
      std::stoul(port) > 65535)
    return fail(EINVAL, "--listen {}: '{}' is not a port (1..65535)", text, port);
  a.port = static_cast<uint16_t>(std::stoul(port));
  if (a.host.empty()) a.host = "0.0.0.0";
  return a;
}

Result<std::unique_ptr<http::Server>> listen_tls(const TcpAddress& address, const TlsIdentity& identity,
                                                 const TrustStore& trust, RoleHandler handler,
                                                 http::ServerOptions options, PeerLookup peers) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  if (int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return fail(EINVAL, "--listen: cannot resolve {}: {}", address.host, gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  Fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) < 0) return fail_errno("cannot bind {}:{}", address.host, address.port);
  if (::listen(fd.get(), 128) < 0) return fail_errno("listen on {}:{}", address.host, address.port);
  options.tls_key_pem = identity.key_pem;
  options.tls_cert_pem = identity.cert_pem;
  auto guarded = [&trust, handler = std::move(handler), peers = std::move(peers)](const http::Request& r) -> http::Response {
    if (r.client_cert_sha256.empty())
      return Api::error_response(
          Error(0, "a client certificate is required").with_hint("pass --client-cert and --client-key"), 403);
    auto role = trust.role_of(r.client_cert_sha256);
    if (!role && peers && peers(r.client_cert_sha256)) role = Role::ClusterNode;
    if (!role) {
      log::warn("refused {} {} from an untrusted certificate {}", r.method, r.path, r.client_cert_sha256);
      return Api::error_response(
          Error(0, fmt::format("this client certificate ({}) is not trusted by vesseld", r.client_cert_sha256))
              .with_hint("on the server: vessel trust add CERT"),
          403);
    }
    return handler(r, *role);
  };
  return http::Server::listen_fd(fd.release(), std::move(guarded), std::move(options));
}

std::optional<http::Response> trust_route(const http::Request& r, TrustStore& trust, Role role) {
  const std::string base = "/v1/trust";
  if (r.path.compare(0, base.size(), base) != 0 || (r.path.size() > base.size() && r.path[base.size()] != '/'))
    return std::nullopt;
  if (auto refused = refuse_unless(r, role)) return refused;
  auto answer = [](Result<json::Json> j, int ok_status) {
    return j ? http::Response::json(ok_status, j->dump() + "\n") : Api::error_response(j.error());
  };
  if (r.path == base || r.path == base + "/") {
    if (r.method == "GET") return answer(trust.list(), 200);
    if (r.method == "POST") {
      auto add = [&]() -> Result<json::Json> {
        auto j = TRY(json::parse(r.body, 128 * 1024, 4));
        if (!j.is_object()) return fail(EINVAL, "trust: expected an object");
        TRY(json::reject_unknown(j, "trust", {"certificate", "name", "role"}));
        auto pem = TRY(json::get_string(j, "trust", "certificate"));
        auto name = TRY(json::opt_string(j, "trust", "name")).value_or("");
        auto role_text = TRY(json::opt_string(j, "trust", "role"));
        auto new_role = role_text ? parse_role(*role_text) : TrustStore::kDefaultRole;
        if (!new_role)
          return fail(EINVAL, "trust.role: '{}' is none of read-only, operator, admin", role_text->substr(0, 64));
        return trust.add(pem, name, *new_role);
      };
      return answer(add(), 201);
    }
    return Api::error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
  }
  std::string which = r.path.substr(base.size() + 1);
  if (r.method == "DELETE") return answer(trust.remove(which), 200);
  return Api::error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
}

}  // namespace vessel::daemon
