// A pool's definition (docs/daemon/pools.md): what POST /v1/pools creates and PATCH changes,
// fully validated before any side effect. Stored as JSON in the pools table.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "daemon/policy/allocation.h"
#include "daemon/policy/shortage.h"
#include "daemon/policy/timeslice.h"

namespace vessel::daemon {

inline constexpr double kMaxPoolCpus = 4096;
inline constexpr uint64_t kMaxPoolMemoryMib = uint64_t{1} << 30;  // 1 PiB

struct PoolSpec {
  std::string name;
  double cpus = 1;           // V: CPUs (fractions allowed)
  uint64_t memory_mib = 0;   // V: memory
  PolicyKind policy = PolicyKind::Proportional;
  bool hard = false;         // proportional/demand: allocations are quotas too
  // The CPUs the members run on ("0-1,3"; empty: all). cpu.weight divides time on each CPU, so a
  // pool smaller than the host gets exact shares only when its members share CPUs.
  std::string cpuset;
  uint64_t round_ms = 100;   // timeslice: W, the round the members' turns fill (timeslice.h)
  ShortageAction on_shortage = ShortageAction::None;  // priority: when memory runs short (shortage.h)
  PoolShape shape() const { return {{cpus, memory_mib << 20}, policy, hard}; }
};

// {"name", "cpus", "memory_mib", "policy"?, "hard"?, "cpuset"?, "round_ms"?, "on_shortage"?}: unknown fields and bad
// values are refused with the field named.
Result<PoolSpec> parse_pool_spec(const json::Json& body);
Result<PoolSpec> parse_pool_spec_text(std::string_view text);
// PATCH: any of {"cpus", "memory_mib", "policy", "hard", "cpuset", "round_ms", "on_shortage"} replaces the
// field of `current`.
Result<PoolSpec> parse_pool_update(const json::Json& body, PoolSpec current);
json::Json to_json(const PoolSpec& spec);

}  // namespace vessel::daemon
