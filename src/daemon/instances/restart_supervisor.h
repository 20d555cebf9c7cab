// Applies restart policies (docs/daemon/restart.md): told how an instance ended, it decides
// (policy/restart_policy.h), remembers the decision in the store, waits the back-off on its timer
// thread and has the Manager start the instance again. It never blocks the caller: the
// ExitMonitor's thread and API requests only post to it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "base/json.h"
#include "daemon/health/events.h"
#include "daemon/health/timer_thread.h"
#include "daemon/policy/restart_policy.h"
#include "daemon/store/store.h"

namespace vessel::daemon {

class RestartSupervisor {
 public:
  // Starts `name` again (stop_first: it still runs, unhealthy), through Manager::act with the
  // instance's lock; ECANCELED when the restart is no longer wanted (see claim()).
  using RestartFn = std::function<Result<void>(const std::string& name, bool stop_first)>;
  RestartSupervisor(Store& store, EventBus& events, RestartFn restart);

  // The guest ended by itself (or is unhealthy): decide on the timer thread.
  void ended(const std::string& name, const RestartPolicy& policy, const EndFacts& end);
  // vesseld started: `name` is stopped (exit_code: how it last ended); `always` and the like come back.
  void daemon_started(const std::string& name, const RestartPolicy& policy, std::optional<int64_t> exit_code);
  // The user started or stopped it (called under the instance's lock): a fresh count, or no
  // restart until the next start. user_stopped() is true when it cancelled a pending restart.
  void user_started(const std::string& name);
  bool user_stopped(const std::string& name);
  // Under the instance's lock, just before a restart the policy scheduled: false when it is no
  // longer wanted (the user stopped or started it meanwhile); true counts it and says so in an event.
  bool claim(const std::string& name, const RestartPolicy& policy);
  void forget(const std::string& name);
  // For inspect: {"restart_count": N}.
  json::Json describe(const std::string& name);

 private:
  void decide(const std::string& name, const RestartPolicy& policy, const EndFacts& end);
  void fire(const std::string& name, const RestartPolicy& policy, bool stop_first);

  Store& store_;
  EventBus& events_;
  RestartFn restart_;
  std::mutex state_mutex_;  // each read-modify-write of a restart state is one step
  std::mutex mutex_;
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, uint64_t>> scheduled_;  // when, delay
  TimerThread timers_;  // last: joined first, while the rest still exists
};

// How long a guest that started at `start_ticks` (clock ticks since boot, /proc/PID/stat) has run.
uint64_t ran_ms_since(int64_t start_ticks);

}  // namespace vessel::daemon
