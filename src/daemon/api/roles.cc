#include "daemon/api/roles.h"

#include "daemon/api/router.h"

namespace vessel::daemon {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::ReadOnly: return "read-only";
    case Role::Operator: return "operator";
    case Role::ClusterNode: return "cluster-node";
    case Role::Admin: return "admin";
  }
  return "read-only";
}

std::optional<Role> parse_role(std::string_view text) {
  for (Role r : {Role::ReadOnly, Role::Operator, Role::Admin})
    if (text == to_string(r)) return r;
  return std::nullopt;
}

Role required_role(const http::Request& r) {
  const std::string_view path = r.path;
  auto ends_with = [&](std::string_view tail) {
    return path.size() >= tail.size() && path.compare(path.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (path == "/v1/trust" || path.rfind("/v1/trust/", 0) == 0) return Role::Admin;
  bool instance = path.rfind("/v1/instances/", 0) == 0;
  // The console is a GET, but it types into the guest.
  if (instance && ends_with("/console")) return Role::Operator;
  // Reading an instance's files (vessel cp) is as much as exec: any file, a stopped container's
  // root filesystem mounted for it.
  if (instance && ends_with("/archive")) return Role::Operator;
  // An export holds every file of the instance (docs/daemon/backup.md).
  if (instance && ends_with("/export")) return Role::Operator;
  if (r.method == "GET" || r.method == "HEAD") return Role::ReadOnly;
  // Waiting for an instance to stop changes nothing (the CLI sends it as a POST).
  if (r.method == "POST" && instance && ends_with("/wait") && r.body.empty()) return Role::ReadOnly;
  return Role::Operator;
}

std::optional<http::Response> refuse_unless(const http::Request& r, Role role) {
  Role needed = required_role(r);
  if (static_cast<int>(role) >= static_cast<int>(needed)) return std::nullopt;
  return Api::error_response(
      Error(EPERM, fmt::format("{} {} needs the {} role; this client certificate is {}", r.method, r.path,
                               to_string(needed), to_string(role)))
          .with_hint(fmt::format("an admin can trust the certificate again with --role {} (vessel trust rm, "
                                 "then vessel trust add --role {})", to_string(needed), to_string(needed))),
      403);
}

}  // namespace vessel::daemon
