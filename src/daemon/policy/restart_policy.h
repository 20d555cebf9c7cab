// The restart decision, pure: given an instance's policy, what vesseld remembers of its restarts
// and how it ended, restart it or not, and after what back-off (docs/daemon/restart.md).
// Docker's rules: on-failure restarts on a non-zero exit up to N times, always on any exit,
// unless-stopped as always but not once the user stopped it; the back-off starts at 100 ms,
// doubles up to 5 min, and starts again at 100 ms once the instance ran 10 s.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "daemon/spec/restart_spec.h"

namespace vessel::daemon {

inline constexpr uint64_t kFirstBackoffMs = 100;
inline constexpr uint64_t kMaxBackoffMs = 5 * 60 * 1000;
inline constexpr uint64_t kBackoffResetAfterMs = 10 * 1000;

enum class EndCause {
  Exited,       // the guest ended by itself (its exit code says how)
  Unhealthy,    // its health check failed `retries` times in a row: counts as a failure
  DaemonStart,  // vesseld (re)started and found it stopped
};

struct EndFacts {
  EndCause cause = EndCause::Exited;
  std::optional<int64_t> exit_code;  // none: unknown, counted as a failure
  uint64_t ran_ms = 0;               // how long it had run
};

struct RestartDecision {
  bool restart = false;
  uint64_t delay_ms = 0;  // wait this long, then start it again
  std::string why;        // for the event and the log
  RestartState next;      // what to remember now
};

RestartDecision decide_restart(const RestartPolicy& policy, const RestartState& state, const EndFacts& end);

// The remembered state after a start the user asked for: a fresh count and back-off.
RestartState after_user_start();
// ... after `vessel stop`: no restart until the user starts it again.
RestartState after_user_stop(const RestartState& state);

}  // namespace vessel::daemon
