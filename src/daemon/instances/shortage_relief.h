// Carries out what a priority pool short of memory decided (policy/shortage.h): the member is
// stopped (evict, and suspend for a container) or saved to disk (suspend, a VM: `vessel suspend`,
// resumable with `vessel start`), on a thread of its own, since Pools decides under its lock and
// the stop re-applies the pool. Each relief is an event: {"type": "pool-shortage", "pool", "name",
// "action": "stop"|"suspend", "error"?}. docs/daemon/pools.md, "Shortage".
#pragma once

#include "daemon/health/events.h"
#include "daemon/health/timer_thread.h"
#include "daemon/instances/manager.h"
#include "daemon/instances/pools.h"

namespace vessel::daemon {

// Seconds an evicted member gets between SIGTERM and SIGKILL.
inline constexpr uint32_t kEvictGraceS = 1;

class ShortageRelief {
 public:
  // Becomes `pools`' shortage handler until destroyed.
  ShortageRelief(Manager& manager, EventBus& events, Pools& pools);
  // No handler any more; the reliefs under way finish first.
  ~ShortageRelief();
  ShortageRelief(const ShortageRelief&) = delete;
  ShortageRelief& operator=(const ShortageRelief&) = delete;

 private:
  void relieve(const std::string& pool, const std::string& member, ShortageAction action);

  Manager& manager_;
  EventBus& events_;
  Pools& pools_;
  TimerThread workers_;  // last: joined first
};

}  // namespace vessel::daemon
