// An instance's health, pure (docs/daemon/health.md), as Docker keeps it: "starting" until the
// first passing check, "healthy" after any pass, "unhealthy" after `retries` failures in a row;
// failures within the start period do not count. The last 5 results are kept.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "base/json.h"
#include "daemon/spec/restart_spec.h"

namespace vessel::daemon {

inline constexpr size_t kHealthLogSize = 5;
inline constexpr size_t kHealthOutputBytes = 4096;  // of each result's output (Docker keeps 4 KiB)

struct HealthResult {
  double start = 0, end = 0;  // unix seconds
  int exit_code = 0;          // 0 passes; -1: did not run or timed out
  std::string output;
};

struct HealthState {
  std::string status = "starting";  // starting | healthy | unhealthy
  uint32_t failing_streak = 0;
  std::deque<HealthResult> log;
};

// The state after one check; `in_start_period`: the instance started less than start_period ago.
HealthState next_health(const HealthState& state, const HealthcheckSpec& spec, HealthResult result, bool in_start_period);

// {"status", "failing_streak", "log": [{"start", "end", "exit_code", "output"}]} (inspect's "health").
json::Json to_json(const HealthState& state);

}  // namespace vessel::daemon
