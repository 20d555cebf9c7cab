// The `demand` policy's input: what a member wants, estimated from what it used over the last
// period (docs/daemon/pools.md, "How demand is estimated"). Pure functions, no I/O: vesseld's
// controller (instances/demand_controller.h) reads the counters, the simulator and the tests
// give their own.
//
//   CPUs    used + waiting (runnable but not running: PSI `some` of cpu.pressure, or on cgroup v1
//           the run delay of its threads), plus `cpu_headroom` of that, at least `cpu_floor`.
//           Without a waiting figure, a member using >= `at_limit` of its allocation is pressed:
//           it asks for twice its allocation, since how much more it wants cannot be seen.
//   memory  what it holds (containers: the cgroup's usage; VMs with a balloon: the guest's own
//           figure, total - available, plus vessel-vmm's allowance), plus a headroom of
//           `memory_headroom` of that (at least `memory_headroom_min`), doubled when it is pressed
//           (PSI memory stalls above `pressure`, or without PSI its usage >= `at_limit` of its
//           allocation; a guest with less than 1/8 of its memory available).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "daemon/policy/allocation.h"

namespace vessel::daemon {

// A guest's own view of its memory, from its balloon statistics (bytes).
struct GuestMemory {
  uint64_t total = 0;        // MemTotal (less the balloon, unless deflate_on_oom)
  uint64_t available = 0;    // MemAvailable
  uint64_t balloon = 0;      // the balloon's actual size
  bool balloon_in_total = false;  // deflate_on_oom: the balloon's pages still count in total
  uint64_t overhead = 0;     // what the VM's cgroup holds besides guest RAM (vessel-vmm)
};

// Cumulative counters of one member at one instant, as read from its cgroup (and its balloon).
struct UsageCounters {
  std::chrono::steady_clock::time_point at;
  uint64_t cpu_ns = 0;
  uint64_t memory_bytes = 0;
  std::optional<uint64_t> cpu_wait_us;      // PSI cpu `some` total, or the threads' run delay
  std::optional<uint64_t> memory_stall_us;  // PSI memory `some` total
  std::optional<GuestMemory> guest;         // a VM with balloon statistics
};

// What a member used over one period.
struct MemberUsage {
  double cpus_used = 0;
  std::optional<double> cpus_waiting;    // CPUs' worth of runnable-but-waiting time
  uint64_t memory_bytes = 0;
  std::optional<double> memory_stalled;  // fraction of the period stalled on memory
  std::optional<GuestMemory> guest;
};

struct EstimateTuning {
  double cpu_headroom = 0.25;
  double cpu_floor = 0.05;  // CPUs: an idle member keeps a little, to be seen waiting again
  double at_limit = 0.9;
  double pressure = 0.10;
  double memory_headroom = 0.25;
  uint64_t memory_headroom_min = 32ull << 20;
};

// The usage between two readings of the same member; none when `now` is not after `before` or a
// counter went backwards (the member was restarted: a new cgroup).
std::optional<MemberUsage> usage_between(const UsageCounters& before, const UsageCounters& now);

// The member's demand, given its usage and the allocation in force (allocate() clamps it to the
// member's min and max).
Resources estimate_demand(const MemberUsage& usage, const Resources& allocation, const EstimateTuning& tuning = {});

// A VM's balloon target (MiB) for a memory allocation: the guest RAM the allocation does not
// cover (less vessel-vmm's `overhead`), leaving the guest at least `floor_mib`.
uint64_t balloon_target_mib(uint64_t guest_mib, uint64_t allocation_bytes, uint64_t overhead_bytes, uint64_t floor_mib);

}  // namespace vessel::daemon
