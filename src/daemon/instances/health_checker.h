// Runs instances' health checks (docs/daemon/health.md): every interval, the check's command
// through exec (containers: the runtime's exec; VMs: vessel-agent), with its timeout, on a thread
// of its own; the result moves the health state (policy/health_policy.h). Transitions are events;
// turning unhealthy is reported to the restart policy.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/health/events.h"
#include "daemon/health/timer_thread.h"
#include "daemon/instances/backend.h"
#include "daemon/policy/health_policy.h"

namespace vessel::daemon {

class HealthChecker {
 public:
  // Runs the check in `name` (Manager::exec with a timeout): EBUSY when it cannot now (paused:
  // try again next interval), ESRCH when it no longer runs (the checks end).
  using ProbeFn = std::function<Result<ExecResult>(const std::string& name, const std::vector<std::string>& argv,
                                                   std::chrono::milliseconds timeout)>;
  using UnhealthyFn = std::function<void(const std::string& name)>;
  HealthChecker(EventBus& events, ProbeFn probe, UnhealthyFn unhealthy);

  // `name` (re)started with this check: "starting", first check after one interval.
  void watch(const std::string& name, const HealthcheckSpec& spec);
  void unwatch(const std::string& name);
  // inspect's {"health": {...}}; empty when it has no check running.
  json::Json describe(const std::string& name);

 private:
  struct Watch {
    HealthcheckSpec spec;
    uint64_t generation = 0;
    std::chrono::steady_clock::time_point started;
    HealthState state;
  };
  void schedule(const std::string& name, uint64_t generation, std::chrono::milliseconds delay);
  void check(const std::string& name, uint64_t generation);  // on a spawned thread

  EventBus& events_;
  ProbeFn probe_;
  UnhealthyFn unhealthy_;
  std::mutex mutex_;
  std::map<std::string, Watch> watches_;
  uint64_t next_generation_ = 1;
  TimerThread timers_;  // last: joined first
};

}  // namespace vessel::daemon
