// What a TLS client may do (docs/daemon/remote.md#roles): each trusted certificate carries one
// role. read-only: GET requests (and waiting for an instance); operator: the lifecycle (create,
// start, stop, delete, exec, console, image import and removal) with host paths only under
// vesseld's --allowed-host-path prefixes; admin: everything, the trust store included. The local
// Unix socket is always admin (its group is root-equivalent). A member of this node's cluster
// (docs/cluster.md#forwarding) is a cluster-node: an operator that may name any host path (a
// clustered VM's kernel and disks), but not touch the trust store; it is never stored in it.
#pragma once

#include <optional>
#include <string_view>

#include "http/http.h"

namespace vessel::daemon {

enum class Role { ReadOnly = 0, Operator = 1, ClusterNode = 2, Admin = 3 };

std::string_view to_string(Role role);
// "read-only", "operator", "admin"; nullopt for anything else ("cluster-node" is not given by hand).
std::optional<Role> parse_role(std::string_view text);

// Whether this role may name any host path (admin, and cluster nodes), or only allowed ones.
inline bool any_host_path(Role role) { return role == Role::Admin || role == Role::ClusterNode; }

// The least role that may make this request.
Role required_role(const http::Request& request);

// A 403 answer saying which role the request needs, when `role` is not enough; nullopt otherwise.
std::optional<http::Response> refuse_unless(const http::Request& request, Role role);

}  // namespace vessel::daemon
