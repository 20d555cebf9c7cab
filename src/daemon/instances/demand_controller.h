// The `demand` policy's controller (docs/daemon/pools.md): one loop in vesseld that, every
// period (vesseld --policy-period), reads each running member of every `demand` pool (its
// cgroup's CPU time, memory and pressure; a VM's balloon statistics), estimates its demand
// (policy/demand_estimate.h), moves its allocation toward it with allocate() and writes the result
// through the pools' cgroup code; a VM with a balloon is given the guest RAM its allocation covers
// (the balloon takes the rest). The step reads and writes through DemandIo only, so that it is
// tested with fakes; Pools is the real one.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/health/timer_thread.h"
#include "daemon/policy/allocation.h"
#include "daemon/policy/demand_estimate.h"
#include "daemon/spec/balloon_spec.h"

namespace vessel::daemon {

struct DemandMember {
  std::string name;
  bool vm = false;
  std::string cgroup;
  std::string dir;  // the instance's directory (a VM's API socket is in it)
  double share = 1;
  Resources max;                  // its own limits (a VM's: guest RAM + overhead)
  uint64_t guest_mib = 0;         // VMs: guest RAM
  uint64_t overhead_bytes = 0;    // VMs: vessel-vmm's allowance in its cgroup
  std::optional<BalloonSpec> balloon;
  std::optional<Resources> current;  // the allocation in force (none: it just joined)
};

struct DemandPool {
  std::string name;
  PoolShape shape;
  std::vector<DemandMember> members;  // the running ones
};

// A VM's balloon as read: its target and actual size, and the guest's figures once it sent them.
struct BalloonFigures {
  uint64_t target_mib = 0;
  uint64_t actual_mib = 0;
  std::optional<uint64_t> total_bytes, available_bytes;
};

struct MemberReading {
  UsageCounters counters;
  std::optional<BalloonFigures> balloon;
};

class DemandIo {
 public:
  virtual ~DemandIo() = default;
  // The `demand` pools that have running members.
  virtual std::vector<DemandPool> demand_pools() = 0;
  // A member's counters now; none when it is gone.
  virtual std::optional<MemberReading> read(const DemandMember& m) = 0;
  // Writes the allocations (in the members' order) to their cgroups and keeps them, with the
  // demands, as the ones in force. ESTALE when the pool or its running members changed meanwhile.
  virtual Result<void> apply(const DemandPool& pool, const std::vector<Resources>& demands,
                             const std::vector<Allocation>& allocations) = 0;
  virtual Result<void> set_balloon(const DemandMember& m, uint64_t target_mib) = 0;
};

struct ControllerTuning {
  DemandTuning demand;      // gain: the fraction of the gap closed per period
  EstimateTuning estimate;
  uint64_t guest_floor_mib = 48;  // a balloon never leaves a guest less RAM than this
  uint64_t balloon_step_mib = 4;  // a new target only when it moves at least this much
};

class DemandController {
 public:
  explicit DemandController(DemandIo& io, ControllerTuning tuning = {}) : io_(io), tuning_(tuning) {}

  // One period: every demand pool read, estimated, allocated and applied. Errors are logged;
  // one pool's or member's never stops the others.
  void step();

 private:
  // The members' demands: measured where a reading of the last period exists, else their
  // current allocation (nothing to go by yet: it stays).
  std::vector<Resources> demands(const DemandPool& pool, const std::vector<std::optional<MemberReading>>& readings);
  void step_pool(const DemandPool& pool);
  void size_balloons(const DemandPool& pool, const std::vector<std::optional<MemberReading>>& readings,
                     const std::vector<Allocation>& allocations);

  DemandIo& io_;
  ControllerTuning tuning_;
  std::map<std::string, UsageCounters> last_;  // by pool/member: the previous period's reading
};

// Runs controller.step() every `period` on a timer thread of its own, until destroyed.
class DemandLoop {
 public:
  DemandLoop(DemandController& controller, std::chrono::milliseconds period);
  DemandLoop(const DemandLoop&) = delete;
  DemandLoop& operator=(const DemandLoop&) = delete;

 private:
  void tick();
  DemandController& controller_;
  std::chrono::milliseconds period_;
  TimerThread timers_;  // last: joined first
};

}  // namespace vessel::daemon
