#include "daemon/instances/restart_supervisor.h"

#include <time.h>
#include <unistd.h>

#include "base/log.h"

namespace vessel::daemon {

namespace {
bool is_vanished(const Error& e) { return e.errnum() == ECANCELED || e.errnum() == ENOENT || e.errnum() == EBUSY; }
}  // namespace

uint64_t ran_ms_since(int64_t start_ticks) {
  timespec now{};
  ::clock_gettime(CLOCK_BOOTTIME, &now);
  long hz = ::sysconf(_SC_CLK_TCK);
  if (hz <= 0 || start_ticks <= 0) return 0;
  int64_t now_ms = int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1000000;
  int64_t start_ms = start_ticks * 1000 / hz;
  return now_ms > start_ms ? static_cast<uint64_t>(now_ms - start_ms) : 0;
}

RestartSupervisor::RestartSupervisor(Store& store, EventBus& events, RestartFn restart)
    : store_(store), events_(events), restart_(std::move(restart)) {}

void RestartSupervisor::ended(const std::string& name, const RestartPolicy& policy, const EndFacts& end) {
  if (policy.mode == RestartMode::No) return;
  timers_.post([this, name, policy, end] { decide(name, policy, end); });
}

void RestartSupervisor::daemon_started(const std::string& name, const RestartPolicy& policy,
                                       std::optional<int64_t> exit_code) {
  ended(name, policy, EndFacts{EndCause::DaemonStart, exit_code, 0});
}

void RestartSupervisor::decide(const std::string& name, const RestartPolicy& policy, const EndFacts& end) {
  RestartDecision d;
  {
    std::lock_guard lock(state_mutex_);  // a user's stop in between must not be overwritten
    auto state = store_.restart_state(name);
    if (!state) return log::warn("{}: restart policy: {}", name, state.error().to_string());
    d = decide_restart(policy, *state, end);
    // vesseld's start weighs every stopped instance: those it leaves alone are not news.
    if (end.cause == EndCause::DaemonStart && !d.restart && d.next == *state) return;
    if (auto saved = store_.set_restart_state(name, d.next); !saved) {
      if (saved.error().errnum() != ENOENT) log::warn("{}: restart policy: {}", name, saved.error().to_string());
      return;
    }
  }
  if (!d.restart) {
    if (end.cause == EndCause::DaemonStart) return;
    log::info("{}: not restarted ({})", name, d.why);
    events_.publish({{"type", "instance-restart-skipped"}, {"name", name}, {"policy", to_string(policy)},
                     {"restart_count", d.next.count}, {"reason", d.why}});
    return;
  }
  log::info("{}: restart {} in {} ms ({})", name, d.next.count + 1, d.delay_ms, d.why);
  events_.publish({{"type", "instance-restart-backoff"}, {"name", name}, {"policy", to_string(policy)},
                   {"delay_ms", d.delay_ms}, {"restart_count", d.next.count}, {"reason", d.why}});
  {
    std::lock_guard lock(mutex_);
    scheduled_[name] = {std::chrono::steady_clock::now(), d.delay_ms};
  }
  bool stop_first = end.cause == EndCause::Unhealthy;
  timers_.schedule(name, std::chrono::milliseconds(d.delay_ms), [this, name, policy, stop_first] {
    // A start may take a while (a VM's disks): not on the timer thread.
    timers_.spawn([this, name, policy, stop_first] { fire(name, policy, stop_first); });
  });
}

void RestartSupervisor::fire(const std::string& name, const RestartPolicy& policy, bool stop_first) {
  auto done = restart_(name, stop_first);
  if (done || is_vanished(done.error()) || timers_.stopping()) return;
  log::warn("{}: restart failed: {}", name, done.error().to_string());
  events_.publish({{"type", "instance-restart-failed"}, {"name", name}, {"error", done.error().to_string()}});
  // A start that fails is one more failure: the policy decides again, with a longer back-off.
  timers_.post([this, name, policy] { decide(name, policy, EndFacts{EndCause::Exited, std::nullopt, 0}); });
}

bool RestartSupervisor::claim(const std::string& name, const RestartPolicy& policy) {
  std::unique_lock state_lock(state_mutex_);
  auto state = store_.restart_state(name);
  if (!state || !state->pending || state->user_stopped) return false;
  state->pending = false;
  state->count += 1;
  if (auto saved = store_.set_restart_state(name, *state); !saved) return false;
  state_lock.unlock();
  json::Json event = {{"type", "instance-restart"}, {"name", name}, {"policy", to_string(policy)},
                      {"restart_count", state->count}};
  {
    std::lock_guard lock(mutex_);
    if (auto it = scheduled_.find(name); it != scheduled_.end()) {
      event["delay_ms"] = it->second.second;
      event["waited_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                 it->second.first).count();
      scheduled_.erase(it);
    }
  }
  events_.publish(std::move(event));
  return true;
}

void RestartSupervisor::user_started(const std::string& name) {
  timers_.cancel(name);
  std::lock_guard lock(state_mutex_);
  if (auto saved = store_.set_restart_state(name, after_user_start()); !saved && saved.error().errnum() != ENOENT)
    log::warn("{}: restart policy: {}", name, saved.error().to_string());
}

bool RestartSupervisor::user_stopped(const std::string& name) {
  bool cancelled = timers_.cancel(name);
  std::lock_guard lock(state_mutex_);
  auto state = store_.restart_state(name);
  if (!state) return cancelled;
  bool was_pending = state->pending;
  if (auto saved = store_.set_restart_state(name, after_user_stop(*state)); !saved && saved.error().errnum() != ENOENT)
    log::warn("{}: restart policy: {}", name, saved.error().to_string());
  if (was_pending) events_.publish({{"type", "instance-restart-cancelled"}, {"name", name}, {"reason", "stopped by the user"}});
  return was_pending || cancelled;
}

void RestartSupervisor::forget(const std::string& name) {
  timers_.cancel(name);
  std::lock_guard lock(mutex_);
  scheduled_.erase(name);
}

json::Json RestartSupervisor::describe(const std::string& name) {
  auto state = store_.restart_state(name);
  json::Json j = {{"restart_count", state ? state->count : 0}};
  if (state && state->pending) j["restart_pending"] = true;
  return j;
}

}  // namespace vessel::daemon
