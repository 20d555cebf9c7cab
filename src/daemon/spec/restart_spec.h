// Restart policies and health checks as a spec states them (docs/daemon/restart.md,
// docs/daemon/health.md): Docker's `--restart` and `--health-*` semantics, parsed and bounded
// before anything acts on them. Also the restart bookkeeping vesseld keeps per instance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

enum class RestartMode { No, OnFailure, Always, UnlessStopped };

struct RestartPolicy {
  RestartMode mode = RestartMode::No;
  uint32_t max_retries = 0;  // on-failure:N; 0 = no limit (Docker's on-failure)
  bool operator==(const RestartPolicy&) const = default;
};

inline constexpr uint32_t kMaxRestartRetries = 1000000;

// "no", "on-failure", "on-failure:N", "always", "unless-stopped" (Docker's spellings).
Result<RestartPolicy> parse_restart_policy(std::string_view text);
std::string to_string(const RestartPolicy& p);

// What vesseld remembers between restarts (store: restart_state), so that it survives vesseld.
struct RestartState {
  uint32_t count = 0;            // restarts done by the policy since the last user start
  uint64_t next_delay_ms = 100;  // the back-off the next restart waits
  bool user_stopped = false;     // the user stopped it (`vessel stop`): no restart
  bool pending = false;          // a restart is scheduled and not yet done
  bool operator==(const RestartState&) const = default;
};

// Docker's HEALTHCHECK: a command run inside the instance every interval; `retries` failures in
// a row make it unhealthy; failures within the start period do not count.
struct HealthcheckSpec {
  std::vector<std::string> test;  // argv run by exec (--health-cmd CMD becomes /bin/sh -c CMD)
  uint64_t interval_ms = 30000;
  uint64_t timeout_ms = 30000;
  uint64_t start_period_ms = 0;
  uint32_t retries = 3;
  bool operator==(const HealthcheckSpec&) const = default;
};

// {"test": [...], "interval_ms", "timeout_ms", "start_period_ms", "retries"}; `where` names the field.
Result<HealthcheckSpec> parse_healthcheck(const json::Json& j, std::string_view where);
json::Json to_json(const HealthcheckSpec& h);

}  // namespace vessel::daemon
