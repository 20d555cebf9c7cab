// The `timeslice` policy's rotation (docs/daemon/pools.md), as pure functions: a pool's running
// members take turns holding its CPUs, T_i = A_i / ΣA · W each round of W (time_slices()). The
// member whose turn it is gets its full CPU quota (cpu.max), the others a minimal one (1 ms per
// second). vesseld's rotation thread (instances/slice_rotation.h) only sleeps and writes what
// these functions say.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/policy/allocation.h"

namespace vessel::daemon {

// cpu.max "QUOTA PERIOD" (v1: cpu.cfs_quota_us, cpu.cfs_period_us), in microseconds.
struct CpuLimit {
  uint64_t quota_us = 0;
  uint64_t period_us = 0;
  bool operator==(const CpuLimit&) const = default;
};

// Every turn's limit is written over this one period, the kernel's longest. The period must not
// change from turn to turn: a write to cpu.max refills the quota at once but leaves the period
// timer armed in its old rhythm (kernel/sched/fair.c start_cfs_bandwidth() returns when the timer
// is active), so a member raised from "1000 1000000" to "100000 100000" got one 100 ms refill and
// then nothing until the old 1 s timer fired: a 250 ms turn ran about 100 ms.
inline constexpr uint64_t kSlicePeriodUs = 1'000'000;

// Off turn: the kernel's least quota over the period, 0.1 % of a CPU. Not 0 (frozen): a VM's
// vessel-vmm keeps answering its control socket, if slowly.
inline constexpr CpuLimit kOffTurnLimit{1000, kSlicePeriodUs};

inline constexpr uint64_t kMinRoundMs = 10;
inline constexpr uint64_t kMaxRoundMs = 10'000;

struct SliceMember {
  std::string name;
  std::string cgroup;     // where its limit is written
  double cpus = 0;        // A_i: its allocation, the basis of its slice
  double on_cpus = 0;     // its quota while it holds the CPUs: its own limit, at most the pool's
  uint64_t slice_ns = 0;  // T_i (slice_schedule fills it)
  bool operator==(const SliceMember&) const = default;
};

struct SliceSchedule {
  uint64_t round_ns = 0;             // W
  std::vector<SliceMember> members;  // in turn order; each with a slice > 0
  bool operator==(const SliceSchedule&) const = default;
};

// A member's limit while it holds the CPUs: `on_cpus` over kSlicePeriodUs (written at the turn's
// start, so the whole quota is there at once).
CpuLimit on_turn_limit(double on_cpus);
// Its own limit, over the period of the pools' plans (cgroup_values.h), when the turns end.
CpuLimit own_cpu_limit(double on_cpus);

// T_i = A_i / ΣA · W for each member (equal turns when nothing is allocated); members whose slice
// rounds to 0 take no turn.
SliceSchedule slice_schedule(std::vector<SliceMember> members, uint64_t round_ns);

struct LimitWrite {
  std::string cgroup;
  CpuLimit limit;
  bool operator==(const LimitWrite&) const = default;
};

// The writes when the turn passes from member `from` to `to`: the outgoing member is lowered
// first, so that two never hold the CPUs together. `from` none: the schedule starts, every
// member is written (whatever a re-applied plan left in its cgroup).
std::vector<LimitWrite> turn_writes(const SliceSchedule& s, std::optional<size_t> from, size_t to);

// The rotation of `old` ends, or gives way to `next`: the members of `old` that take no turn in
// `next` get their own limit back (the pool then shares by weights, as `proportional`).
std::vector<LimitWrite> restore_writes(const SliceSchedule& old, const SliceSchedule* next);

// The files of a write for cgroup `version` 1 or 2, in an order the kernel accepts: on v1 a
// child's quota/period may never pass its parent's, so the change that lowers the ratio comes first.
// A turn's write lengthens the period (or keeps it: kSlicePeriodUs is the longest), so the period
// goes first; a write that ends the turns shortens it, so the quota goes first.
std::vector<std::pair<std::string, std::string>> cpu_limit_files(const LimitWrite& w, int version);

}  // namespace vessel::daemon
