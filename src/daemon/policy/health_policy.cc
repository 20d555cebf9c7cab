#include "daemon/policy/health_policy.h"

namespace vessel::daemon {

HealthState next_health(const HealthState& state, const HealthcheckSpec& spec, HealthResult result, bool in_start_period) {
  HealthState next = state;
  bool passed = result.exit_code == 0;
  if (result.output.size() > kHealthOutputBytes) result.output.resize(kHealthOutputBytes);
  next.log.push_back(std::move(result));
  while (next.log.size() > kHealthLogSize) next.log.pop_front();
  if (passed) {
    next.status = "healthy";
    next.failing_streak = 0;
    return next;
  }
  if (in_start_period) return next;  // the instance may still be coming up
  next.failing_streak += 1;
  if (next.failing_streak >= spec.retries) next.status = "unhealthy";
  return next;
}

json::Json to_json(const HealthState& state) {
  json::Json log = json::Json::array();
  for (const auto& r : state.log)
    log.push_back({{"start", r.start}, {"end", r.end}, {"exit_code", r.exit_code}, {"output", r.output}});
  return {{"status", state.status}, {"failing_streak", state.failing_streak}, {"log", log}};
}

}  // namespace vessel::daemon
