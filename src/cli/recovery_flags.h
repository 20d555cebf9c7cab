// `--restart` and the `--health-*` flags of run/create (docs/daemon/restart.md,
// docs/daemon/health.md), as Docker spells them, turned into the spec's fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/json.h"

namespace vessel::cli {

struct RecoveryFlags {
  std::string restart;  // no | on-failure[:N] | always | unless-stopped (vesseld checks it)
  std::string health_cmd, health_interval, health_timeout, health_start_period;
  std::optional<uint32_t> health_retries;
  bool no_healthcheck = false;
  std::string watchdog;  // VMs: --watchdog[=reset|poweroff|pause|none]
};

// Docker's durations: "30s", "1m30s", "500ms", "1h", "1.5s"; a bare number is seconds.
Result<uint64_t> parse_duration_ms(const std::string& text);

// Adds "restart", "healthcheck" or "no_healthcheck", and "watchdog", to `spec`. --health-interval and the like
// without --health-cmd are refused (they would configure nothing).
Result<void> apply_recovery_flags(const RecoveryFlags& f, json::Json& spec);

}  // namespace vessel::cli
