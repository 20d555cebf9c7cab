// -u/--user of a container (and an image's USER), as Docker resolves it: uid[:gid] or
// name[:group], names looked up in the container's own /etc/passwd and /etc/group, never the
// host's. A uid without a group takes its passwd entry's group (0 when it has none), and a named
// user also gets the groups that list it (additionalGids).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace vessel::daemon {

struct ContainerUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
};

// From the texts of /etc/passwd and /etc/group (either may be empty: missing); ENOENT with
// Docker's wording when a name is in neither.
Result<ContainerUser> resolve_user(std::string_view user, std::string_view passwd, std::string_view group);

// Reads etc/passwd and etc/group from the first of `roots` (top layer first) that has each,
// confined to that root (a planted symlink resolves inside it), then resolve_user().
Result<ContainerUser> resolve_container_user(std::string_view user, const std::vector<std::string>& roots);

}  // namespace vessel::daemon
