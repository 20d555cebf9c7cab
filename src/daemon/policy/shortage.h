// What a `priority` pool does on a memory shortage (docs/daemon/pools.md, "Shortage"): when the
// running members' memory limits add up to more than the pool, the lowest priorities are stopped
// (evict) or suspended (suspend: a VM is saved to disk, a container stopped) until the rest fit.
// CPU is squeezed, never relieved: time can be shared, memory squeezed below a member's need is
// reclaimed from it or OOM-kills it. Pure: the pools decide here, vesseld acts (shortage_relief.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/policy/allocation.h"

namespace vessel::daemon {

enum class ShortageAction { None, Evict, Suspend };

std::string_view to_string(ShortageAction a);
std::optional<ShortageAction> parse_shortage_action(std::string_view text);
inline constexpr std::string_view kShortageActionNames = "none, evict, suspend";

// The members to relieve, in order, so that the others' memory limits (`max`; none: the whole
// pool) fit in `pool_memory`: the lowest priority first; among equals the smaller share, then the
// later in `members` (the newer). Empty when they fit.
std::vector<std::string> shortage_victims(uint64_t pool_memory, const std::vector<PoolMember>& members);

}  // namespace vessel::daemon
