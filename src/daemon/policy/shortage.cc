#include "daemon/policy/shortage.h"

#include <algorithm>
#include <numeric>

namespace vessel::daemon {

std::string_view to_string(ShortageAction a) {
  switch (a) {
    case ShortageAction::None: return "none";
    case ShortageAction::Evict: return "evict";
    case ShortageAction::Suspend: return "suspend";
  }
  return "?";
}

std::optional<ShortageAction> parse_shortage_action(std::string_view text) {
  for (auto a : {ShortageAction::None, ShortageAction::Evict, ShortageAction::Suspend})
    if (to_string(a) == text) return a;
  return std::nullopt;
}

std::vector<std::string> shortage_victims(uint64_t pool_memory, const std::vector<PoolMember>& members) {
  auto wants = [&](const PoolMember& m) { return m.max ? m.max->memory_bytes : pool_memory; };
  uint64_t total = 0;
  for (const auto& m : members) total += wants(m);
  std::vector<size_t> order(members.size());
  std::iota(order.begin(), order.end(), 0);
  // The first to go first: lowest priority, then smallest share, then the newest.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (members[a].priority != members[b].priority) return members[a].priority < members[b].priority;
    if (members[a].share != members[b].share) return members[a].share < members[b].share;
    return a > b;
  });
  std::vector<std::string> out;
  for (size_t i : order) {
    if (total <= pool_memory) break;
    total -= wants(members[i]);
    out.push_back(members[i].name);
  }
  return out;
}

}  // namespace vessel::daemon
