// Allocation policies of a pool, as pure functions: given a pool (CPUs, memory, policy) and its
// members, compute each member's allocation A_i (CPUs and bytes) and the cgroup limits that carry
// it. No I/O and no daemon state: vesseld applies the result to cgroups, and a simulator can
// replay a trace through the very same code. docs/daemon/pools.md.
//
//   fixed         A_i = the member's quota, as given; the quotas must fit in the pool.
//   proportional  A_i = P_i / ΣP · V (P_i its share, V the pool's size), capped at its max with the
//                 rest shared out again. Soft: enforced as weights (cpu.weight, memory.low), so idle
//                 capacity is lent; hard (--hard): also as quotas (cpu.max, memory.max).
//   priority      mins first; then, from the highest priority down, each member gets its demand
//                 from what is left (members of one priority split a shortage by their shares).
//   demand        each step moves A_i toward the member's measured demand, clamped to [min, max],
//                 by `gain` of the gap; a pool too small scales what is above the mins by shares.
//   timeslice     A_i as proportional (weights, memory.low), but the CPU is carried by turns:
//                 T_i = A_i / ΣA · W each round (timeslice.h); no CPU quota in the plan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace vessel::daemon {

enum class PolicyKind { Fixed, Proportional, Priority, Demand, Timeslice };

std::string_view to_string(PolicyKind p);
std::optional<PolicyKind> parse_policy(std::string_view text);
// For error messages: "fixed, proportional, priority, demand, timeslice".
inline constexpr std::string_view kPolicyNames = "fixed, proportional, priority, demand, timeslice";

struct Resources {
  double cpus = 0;
  uint64_t memory_bytes = 0;
  bool operator==(const Resources&) const = default;
};

struct PoolShape {
  Resources size;  // V: what the pool divides
  PolicyKind policy = PolicyKind::Proportional;
  bool hard = false;  // proportional/demand: allocations are also quotas
};

struct PoolMember {
  std::string name;
  double share = 1;   // P_i (> 0): proportional, and ties within a priority or a short demand pool
  int priority = 0;   // higher is served first (priority)
  Resources quota;    // fixed: its allocation
  Resources min;      // priority/demand: guaranteed
  std::optional<Resources> max;     // ceiling (none: the pool's size)
  std::optional<Resources> demand;  // priority/demand: what it wants (none: everything up to max)
  std::optional<Resources> current; // demand: the allocation in force (none: start from min)
};

// The cgroup limits that carry an allocation, independent of the cgroup version (cgroup_values.h
// turns them into files). cpu_max/memory_max none = no quota of its own (the pool's parent caps).
inline constexpr uint32_t kMaxCpuWeight = 10000;  // cgroup v2's cpu.weight ceiling

struct CgroupPlan {
  uint32_t cpu_weight = 100;  // 1..10000 (v2 cpu.weight; v1 cpu.shares = weight x 1024 / 100)
  std::optional<double> cpu_max;  // CPUs (cpu.max / cfs quota)
  uint64_t memory_min = 0;        // protected from reclaim (v2 only)
  uint64_t memory_low = 0;        // best-effort protection (v1: soft limit)
  std::optional<uint64_t> memory_high;  // throttled above (v2 only)
  std::optional<uint64_t> memory_max;   // hard limit
  bool operator==(const CgroupPlan&) const = default;
};

struct Allocation {
  std::string name;
  Resources amount;  // A_i
  CgroupPlan plan;
};

struct DemandTuning {
  double gain = 0.5;  // fraction of the gap to the demand closed per step (0 < gain <= 1)
};

// Each member's allocation, in the order given. EINVAL for a malformed pool or member (the field
// named); EAGAIN with the numbers when the members' quotas (fixed) or mins do not fit the pool.
Result<std::vector<Allocation>> allocate(const PoolShape& pool, const std::vector<PoolMember>& members,
                                         const DemandTuning& tuning = {});

// Can `wanted` join the pool beside `members`? EAGAIN with the numbers when a fixed pool is full
// (its quota does not fit) or the mins would no longer fit; the same checks allocate() makes.
Result<void> admit_member(const PoolShape& pool, const std::vector<PoolMember>& members, const PoolMember& wanted);

// Time slices of a round of `round_ns` (W): T_i = A_i / ΣA · W, from the CPUs of each allocation.
std::vector<uint64_t> time_slices(const std::vector<Allocation>& allocations, uint64_t round_ns);

// Water-filling: `amount` split in proportion to `weights` (> 0), no one above its cap; what a capped
// one cannot take goes to the others. Returns what each gets; the sum is min(amount, Σcaps).
std::vector<double> water_fill(double amount, const std::vector<double>& weights, const std::vector<double>& caps);

}  // namespace vessel::daemon
