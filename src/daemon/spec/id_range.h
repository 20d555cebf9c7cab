// The host ids a --userns=auto container's user namespace maps to (policy/id_pool.h picks them,
// the store keeps who holds which).
#pragma once

#include <cstdint>

namespace vessel::daemon {

// One contiguous run of host ids: uids [uid, uid + count) and gids [gid, gid + count).
struct IdRange {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t count = 0;
  bool operator==(const IdRange&) const = default;
};

}  // namespace vessel::daemon
