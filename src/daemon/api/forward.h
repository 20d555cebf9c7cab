// Forwarding (docs/cluster.md#forwarding): a request for a clustered instance that runs on another
// node goes to that node's API, found at the address it advertises in its node record; its answer
// (a body, a stream of logs, or an upgraded exec stream) becomes this one's. The caller's role was
// checked here. The other node sees vesseld on its socket (unix:// addresses, nodes of one host)
// or, over https://, this node's TLS identity, which it admits as a cluster node's because this
// node's record publishes it; this node pins the public key the other's record publishes. A
// forwarded request carries X-Vessel-Forwarded and is never forwarded again (no loops while
// records change).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "base/error.h"
#include "cluster/membership.h"
#include "cluster/node_record.h"
#include "http/http.h"

namespace vessel::daemon {

inline constexpr const char* kForwardedHeader = "x-vessel-forwarded";  // names are lower-cased

bool was_forwarded(const http::Request& request);

// How this node (`self`) reaches `node`'s API.
struct NodeEndpoint {
  std::string socket;  // its Unix socket (unix://PATH, unix:PATH or /PATH), or empty
  std::string base;    // "http://localhost" (socket) or "https://HOST:PORT"
  http::ClientOptions options;  // the socket, or the TLS client identity and the pinned key
};
// EINVAL for an address that is neither; ENOTSUP, with what to do, when an https:// node publishes
// no TLS key or this node has no identity to show it (no --listen).
Result<NodeEndpoint> node_endpoint(const cluster::Membership& self, const cluster::NodeInfo& node);

// `request` answered by `node`, streamed through. When the node cannot be reached: 502 naming
// it, with what to do.
http::Response forward_to(const cluster::Membership& self, const cluster::NodeInfo& node, const std::string& instance,
                          const http::Request& request);

// One call to a node's API (drain, migrate --to): its status and body, or why it was not reached.
Result<http::ClientResponse> call_node(const cluster::Membership& self, const cluster::NodeInfo& node, const std::string& method,
                                       const std::string& target, const std::string& body = {},
                                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The same with the answer's body streamed to `on_data` (an image or a backup: not held in memory);
// a transfer that stalls for `stall` is aborted. Answers the status and headers (body empty).
Result<http::ClientResponse> stream_from_node(const cluster::Membership& self, const cluster::NodeInfo& node,
                                              const std::string& method, const std::string& target,
                                              const std::string& body,
                                              const std::function<bool(std::string_view)>& on_data,
                                              std::chrono::seconds stall = std::chrono::seconds(30));

}  // namespace vessel::daemon
