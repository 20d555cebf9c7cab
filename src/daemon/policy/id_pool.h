// The pool of host uids and gids from which vesseld gives each --userns=auto container a private
// range of kUsernsSize ids (podman's --userns=auto): `vesseld --userns-pool START:COUNT`, else the
// `vessel` entries of /etc/subuid and /etc/subgid. Pure: the store keeps who holds what.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "daemon/spec/id_range.h"

namespace vessel::daemon {

// The pool: host uids and gids vesseld may hand out (count may differ between the two files;
// the pool's size is the smaller).
struct IdPool {
  uint32_t uid = 0, uid_count = 0;
  uint32_t gid = 0, gid_count = 0;
  uint32_t capacity() const { return uid_count < gid_count ? uid_count : gid_count; }
};

// "START:COUNT" (uids and gids alike). START must be above 0 (host root is never handed out),
// COUNT at least one range, and the pool must end below 2^32 - 1.
Result<IdPool> parse_id_pool(std::string_view text);

// The `user` entries of subuid and subgid texts (subuid(5): "name:start:count" per line); the
// first entry of each wins. ENOENT when either has none.
Result<IdPool> id_pool_from_subid(std::string_view subuid, std::string_view subgid,
                                  std::string_view user);

// The first free range of `size` ids in `pool`, in steps of `size`, that overlaps none of
// `taken` (uids against uids, gids against gids, whatever their alignment); none when full.
std::optional<IdRange> pick_id_range(const IdPool& pool, const std::vector<IdRange>& taken,
                                     uint32_t size);

}  // namespace vessel::daemon
