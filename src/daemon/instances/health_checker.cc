#include "daemon/instances/health_checker.h"

#include "base/log.h"

namespace vessel::daemon {

namespace {
double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }
}  // namespace

HealthChecker::HealthChecker(EventBus& events, ProbeFn probe, UnhealthyFn unhealthy)
    : events_(events), probe_(std::move(probe)), unhealthy_(std::move(unhealthy)) {}

namespace {
// Each run of an instance has its own timer: a late check of the last run cannot replace it.
std::string timer_key(const std::string& name, uint64_t generation) { return fmt::format("{}#{}", name, generation); }
}  // namespace

void HealthChecker::watch(const std::string& name, const HealthcheckSpec& spec) {
  uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    if (auto it = watches_.find(name); it != watches_.end()) timers_.cancel(timer_key(name, it->second.generation));
    generation = next_generation_++;
    watches_[name] = Watch{spec, generation, std::chrono::steady_clock::now(), HealthState{}};
  }
  schedule(name, generation, std::chrono::milliseconds(spec.interval_ms));
}

void HealthChecker::unwatch(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = watches_.find(name);
  if (it == watches_.end()) return;
  timers_.cancel(timer_key(name, it->second.generation));
  watches_.erase(it);
}

json::Json HealthChecker::describe(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = watches_.find(name);
  if (it == watches_.end()) return json::Json::object();
  return {{"health", to_json(it->second.state)}};
}

void HealthChecker::schedule(const std::string& name, uint64_t generation, std::chrono::milliseconds delay) {
  // The check may take up to its timeout: never on the timer thread.
  timers_.schedule(timer_key(name, generation), delay, [this, name, generation] { timers_.spawn([this, name, generation] { check(name, generation); }); });
}

void HealthChecker::check(const std::string& name, uint64_t generation) {
  HealthcheckSpec spec;
  std::chrono::steady_clock::time_point started;
  {
    std::lock_guard lock(mutex_);
    auto it = watches_.find(name);
    if (it == watches_.end() || it->second.generation != generation) return;
    spec = it->second.spec;
    started = it->second.started;
  }
  HealthResult result;
  result.start = unix_now();
  auto ran = probe_(name, spec.test, std::chrono::milliseconds(spec.timeout_ms));
  result.end = unix_now();
  if (!ran && ran.error().errnum() == EBUSY) return schedule(name, generation, std::chrono::milliseconds(spec.interval_ms));
  if (!ran && (ran.error().errnum() == ESRCH || ran.error().errnum() == ENOENT)) {
    std::lock_guard lock(mutex_);
    if (auto it = watches_.find(name); it != watches_.end() && it->second.generation == generation) watches_.erase(it);
    return;
  }
  if (ran) {
    result.exit_code = ran->exit_code;
    result.output = ran->output;
  } else {
    result.exit_code = -1;
    result.output = ran.error().errnum() == ETIMEDOUT
                        ? fmt::format("health check exceeded its timeout ({} ms)", spec.timeout_ms)
                        : ran.error().to_string();
  }
  bool in_start_period = std::chrono::steady_clock::now() - started < std::chrono::milliseconds(spec.start_period_ms);
  std::string before, after;
  uint32_t streak;
  {
    std::lock_guard lock(mutex_);
    auto it = watches_.find(name);
    if (it == watches_.end() || it->second.generation != generation) return;  // restarted or gone meanwhile
    before = it->second.state.status;
    it->second.state = next_health(it->second.state, spec, std::move(result), in_start_period);
    after = it->second.state.status;
    streak = it->second.state.failing_streak;
  }
  if (after != before) {
    log::info("{}: health {} -> {}", name, before, after);
    events_.publish({{"type", "instance-health"}, {"name", name}, {"status", after}, {"previous", before},
                     {"failing_streak", streak}});
  }
  if (after == "unhealthy" && before != "unhealthy") unhealthy_(name);
  schedule(name, generation, std::chrono::milliseconds(spec.interval_ms));
}

}  // namespace vessel::daemon
