// What the instance manager asks of the pools (docs/daemon/pools.md), so that the manager needs
// no pool code: where a member's cgroup is, whether a create or start fits the member's pool, and
// that a member's state changed (its pool's allocation is then computed and applied again).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {

class PoolHooks {
 public:
  virtual ~PoolHooks() = default;
  // The cgroup of a pool member, below its pool's; none when `spec` names no pool.
  virtual std::optional<std::string> member_cgroup(const InstanceSpec& spec) const = 0;
  // ENOENT when the pool does not exist; EAGAIN with the numbers when a fixed pool is full. Else
  // the CPU weight the member starts with, until its pool's plan applies once it runs (at the
  // default 100 beside a member at 10000, a starting vessel-vmm got 1% of a busy CPU).
  virtual Result<uint32_t> admit(const std::string& name, const InstanceSpec& spec) = 0;
  // Instance `name` changed state (or was created/deleted): re-apply its pool, if any.
  virtual void changed(const std::string& name) = 0;
  // Instance `name`, a running member, is about to be stopped: it gets the CPU to end (squeezed
  // to the least weight beside a busy member, a container took tens of seconds to die).
  virtual void stopping(const std::string& /*name*/, const InstanceSpec& /*spec*/) {}
};

}  // namespace vessel::daemon
