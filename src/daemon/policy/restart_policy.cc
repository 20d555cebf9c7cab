#include "daemon/policy/restart_policy.h"

#include <algorithm>

#include "base/error.h"

namespace vessel::daemon {

namespace {

bool failed(const EndFacts& end) { return end.cause == EndCause::Unhealthy || !end.exit_code || *end.exit_code != 0; }

std::string describe_end(const EndFacts& end) {
  if (end.cause == EndCause::Unhealthy) return "unhealthy";
  if (end.cause == EndCause::DaemonStart) return "vesseld started";
  return end.exit_code ? fmt::format("exited with {}", *end.exit_code) : std::string("exited (status unknown)");
}

// Should the policy restart it at all (the back-off aside)?
std::optional<std::string> refusal(const RestartPolicy& policy, const RestartState& state, const EndFacts& end) {
  if (policy.mode == RestartMode::No) return "restart policy no";
  if (end.cause == EndCause::DaemonStart) {
    // Docker: `always` comes back with the daemon even after a user stop; the others only when a
    // restart was due when vesseld went away.
    if (policy.mode == RestartMode::Always) return std::nullopt;
    if (state.user_stopped) return "stopped by the user";
    if (policy.mode == RestartMode::UnlessStopped) return std::nullopt;
    if (!state.pending && !failed(end)) return "no restart was due";  // on-failure: due, or died failing meanwhile
  }
  if (state.user_stopped) return "stopped by the user";
  if (policy.mode == RestartMode::OnFailure) {
    if (end.cause != EndCause::DaemonStart && !failed(end)) return "exited with 0";
    if (policy.max_retries && state.count >= policy.max_retries)
      return fmt::format("gave up after {} restarts (on-failure:{})", state.count, policy.max_retries);
  }
  return std::nullopt;
}

}  // namespace

RestartDecision decide_restart(const RestartPolicy& policy, const RestartState& state, const EndFacts& end) {
  RestartDecision d;
  d.next = state;
  if (auto no = refusal(policy, state, end)) {
    d.why = fmt::format("{}: {}", describe_end(end), *no);
    d.next.pending = false;
    return d;
  }
  d.restart = true;
  d.why = fmt::format("{}: restart policy {}", describe_end(end), to_string(policy));
  uint64_t delay = std::clamp<uint64_t>(state.next_delay_ms, kFirstBackoffMs, kMaxBackoffMs);
  if (end.ran_ms >= kBackoffResetAfterMs) delay = kFirstBackoffMs;  // it ran long enough to count as healthy
  if (end.cause == EndCause::DaemonStart) {
    d.delay_ms = 0;  // as Docker: at once; the back-off goes on from where it was
    d.next.next_delay_ms = delay;
  } else {
    d.delay_ms = delay;
    d.next.next_delay_ms = std::min(delay * 2, kMaxBackoffMs);
  }
  d.next.pending = true;
  if (policy.mode == RestartMode::Always) d.next.user_stopped = false;
  return d;
}

RestartState after_user_start() { return RestartState{}; }

RestartState after_user_stop(const RestartState& state) {
  RestartState s = state;
  s.user_stopped = true;
  s.pending = false;
  return s;
}

}  // namespace vessel::daemon
