// `vesseld --listen tcp://ADDR:PORT`: the same REST API over TLS, for clients whose certificate
// is in the trust store (anything else is answered 403 before the API sees the request). Also
// the /v1/trust routes, served on every listener.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "http/http.h"
#include "daemon/api/tls_identity.h"

namespace vessel::daemon {

struct TcpAddress {
  std::string host;  // "0.0.0.0", "127.0.0.1", "::", a name
  uint16_t port = 0;
};
// "tcp://127.0.0.1:8443", "tcp://[::]:8443", "tcp://:8443" (all IPv4 addresses).
Result<TcpAddress> parse_listen_address(const std::string& text);

// A handler that is told the client's role (the Unix socket's is always Role::Admin).
using RoleHandler = std::function<http::Response(const http::Request&, Role)>;

// The cluster node whose certificate this is (its SHA-256, hex), if any (api/cluster_peers.h).
using PeerLookup = std::function<std::optional<std::string>(const std::string& cert_sha256)>;

// Binds and listens; serves `handler` to trusted clients only, with the role their trust entry
// names, and to the cluster's nodes that `peers` knows (when set) as Role::ClusterNode.
Result<std::unique_ptr<http::Server>> listen_tls(const TcpAddress& address, const TlsIdentity& identity,
                                                 const TrustStore& trust, RoleHandler handler,
                                                 http::ServerOptions options, PeerLookup peers = {});

// GET/POST /v1/trust, DELETE /v1/trust/{fingerprint|name}; nullopt for other paths. Every trust
// route needs Role::Admin (403 otherwise).
std::optional<http::Response> trust_route(const http::Request& request, TrustStore& trust, Role role);

}  // namespace vessel::daemon
