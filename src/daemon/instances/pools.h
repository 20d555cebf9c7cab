// Pools (docs/daemon/pools.md): a size (CPUs, memory) divided among member instances by a policy
// (policy/allocation.h). A pool is a parent cgroup with the pool's size as its limits; its running
// members' cgroups are children, whose weights, quotas and memory protections carry the allocation.
// The allocation is recomputed and applied on every membership, state or size change, for
// containers and VMs alike (vessel-vmm's cgroup holds all its threads, the vCPUs included).
// A `timeslice` pool's running members take turns holding its CPUs: one SliceRotation thread per
// such pool, started, changed and stopped with the allocation.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/json.h"
#include "daemon/instances/pool_hooks.h"
#include "daemon/instances/slice_rotation.h"
#include "daemon/policy/pool_spec.h"
#include "daemon/store/store.h"

namespace vessel::daemon {

class Pools : public PoolHooks {
 public:
  // `cgroup_parent`: vesseld's (ManagerConfig); pools live in /<cgroup_parent>-pools/<pool>.
  Pools(Store& store, std::string cgroup_parent) : store_(store), parent_(std::move(cgroup_parent) + "-pools") {}
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
  Result<void> admit(const std::string& name, const InstanceSpec& spec) override;
  void changed(const std::string& name) override;

  std::string pool_cgroup(const std::string& pool) const { return "/" + parent_ + "/" + pool; }

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
  // timeslice: the turns of the members that run (paused ones take none).
  SliceSchedule slice_schedule_of(const PoolSpec& pool, const std::vector<Member>& holders,
                                  const std::vector<Allocation>& allocated) const;
  // Starts, changes or (not timeslice, or no one runs) stops the pool's rotation.
  void rotate_locked(const PoolSpec& pool, const std::vector<Member>& holders, const std::vector<Allocation>& allocated);

  Store& store_;
  std::string parent_;
  std::mutex mutex_;  // one apply at a time: the cgroups see the allocations in order
  std::map<std::string, std::unique_ptr<SliceRotation>> rotations_;  // pool -> its turns (under mutex_)
};

}  // namespace vessel::daemon
