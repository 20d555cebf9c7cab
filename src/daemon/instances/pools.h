// Pools (docs/daemon/pools.md): a size (CPUs, memory) divided among member instances by a policy
// (policy/allocation.h). A pool is a parent cgroup with the pool's size as its limits; its running
// members' cgroups are children, whose weights, quotas and memory protections carry the allocation.
// The allocation is recomputed and applied on every membership, state or size change, for
// containers and VMs alike (vessel-vmm's cgroup holds all its threads, the vCPUs included).
// For `demand` pools, Pools is also the demand controller's I/O (demand_controller.h): it lists
// the running members, reads their counters and balloons, and writes and keeps what the
// controller allocated; a state change keeps those allocations (a new member starts at its max).

// A `timeslice` pool's running members take turns holding its CPUs: one SliceRotation thread per
// such pool, started, changed and stopped with the allocation.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "base/json.h"
#include "daemon/instances/demand_controller.h"
#include "daemon/instances/pool_hooks.h"
#include "daemon/instances/slice_rotation.h"
#include "daemon/policy/pool_spec.h"
#include "daemon/store/store.h"

namespace vessel::daemon {

class Pools : public PoolHooks, public DemandIo {
 public:
  // `cgroup_parent`: vesseld's (ManagerConfig); pools live in /<cgroup_parent>-pools/<pool>.
  // `instances_dir`: <state>/instances, where a VM member's API socket is (its balloon).
  Pools(Store& store, std::string cgroup_parent, std::string instances_dir = {})
      : store_(store), parent_(std::move(cgroup_parent) + "-pools"), instances_dir_(std::move(instances_dir)) {}
  // The rotations stop; their members get their own CPU limits back (shares by weights).
  ~Pools();

  // Every pool applied again, at vesseld's start: timeslice pools' rotations resume.
  void apply_all();

  Result<json::Json> create(const PoolSpec& spec);
  Result<json::Json> list();
  // The pool, and per member: share, priority, state, allocation (running members), the limits
  // that carry it, what its cgroup holds now, and its measured usage.
  Result<json::Json> inspect(const std::string& name);
  // Size or policy, live: applied to the running members at once.
  Result<json::Json> update(const std::string& name, const json::Json& patch);
  // EBUSY naming the members while any instance names the pool.
  Result<void> remove(const std::string& name);

  std::optional<std::string> member_cgroup(const InstanceSpec& spec) const override;
  Result<uint32_t> admit(const std::string& name, const InstanceSpec& spec) override;
  void changed(const std::string& name) override;
  void stopping(const std::string& name, const InstanceSpec& spec) override;

  std::string pool_cgroup(const std::string& pool) const { return "/" + parent_ + "/" + pool; }

  // Told, without blocking, to stop or suspend a member of a priority pool short of memory
  // (policy/shortage.h); vesseld's is shortage_relief.h. Called under the pools' lock: it must
  // not call back into Pools. Empty: shortages are only logged.
  using ShortageHandler = std::function<void(const std::string& pool, const std::string& member, ShortageAction)>;
  void set_shortage_handler(ShortageHandler handler);

  // DemandIo (demand_controller.h).
  std::vector<DemandPool> demand_pools() override;
  std::optional<MemberReading> read(const DemandMember& m) override;
  Result<void> apply(const DemandPool& pool, const std::vector<Resources>& demands,
                     const std::vector<Allocation>& allocations) override;
  Result<void> set_balloon(const DemandMember& m, uint64_t target_mib) override;

 private:
  struct Member {
    std::string name;
    std::string state;
    InstanceSpec spec;
    pid_t pid = 0;
  };
  Result<PoolSpec> load(const std::string& name);
  Result<std::vector<Member>> members(const std::string& pool);
  // The pool's cgroup with its size as limits; then each running member's share of it.
  Result<void> apply_locked(const PoolSpec& pool);
  Result<std::vector<Allocation>> allocations(const PoolSpec& pool, const std::vector<Member>& running);
  // How a plan is carried for this host and member: a member's CPU quota above the pool's is
  // lowered to it; a VM with a balloon in a demand pool has no memory.high (the balloon gives
  // its memory back; the VMM's guest RAM could only be throttled against it).
  void adjust_plans(const PoolSpec& pool, const std::vector<Member>& running, std::vector<Allocation>& allocated) const;
  // Each running member's plan into its cgroup (`quiet`: no warnings, a retry follows).
  void write_members(const PoolSpec& pool, const std::vector<Member>& running, const std::vector<Allocation>& allocated,
                     bool quiet);
  Result<std::vector<Member>> running_members(const std::string& pool);
  DemandMember demand_member(const Member& m);

  // What the demand controller set, by member (demand pools only); a member that stops loses it.
  struct InForce {
    Resources demand;
    Resources allocation;
  };
  std::optional<InForce> in_force(const std::string& member);
  // timeslice: the turns of the members that run (paused ones take none).
  SliceSchedule slice_schedule_of(const PoolSpec& pool, const std::vector<Member>& holders,
                                  const std::vector<Allocation>& allocated) const;
  // Starts, changes or (not timeslice, or no one runs) stops the pool's rotation.
  void rotate_locked(const PoolSpec& pool, const std::vector<Member>& holders, const std::vector<Allocation>& allocated);
  // priority with on_shortage: the members to relieve go to the handler, once each while they run.
  void relieve_locked(const PoolSpec& pool, const std::vector<Member>& holders);

  Store& store_;
  std::string parent_;
  std::string instances_dir_;
  std::mutex mutex_;  // one apply at a time: the cgroups see the allocations in order
  std::mutex in_force_mutex_;
  std::map<std::string, InForce> in_force_;
  std::map<std::string, std::unique_ptr<SliceRotation>> rotations_;  // pool -> its turns (under mutex_)
  ShortageHandler shortage_handler_;      // under mutex_
  std::set<std::string> relieving_;       // members handed to it that still run (under mutex_)
};

}  // namespace vessel::daemon
