#include "cli/recovery_flags.h"

#include <charconv>
#include <cmath>

namespace vessel::cli {

Result<uint64_t> parse_duration_ms(const std::string& text) {
  if (text.empty()) return fail(EINVAL, "empty duration");
  auto bad = [&] {
    return Unexpected(Error(EINVAL, fmt::format("duration '{}' is not valid", text.substr(0, 64)))
                          .with_hint("e.g. 30s, 1m30s, 500ms, 1h"));
  };
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return bad();
    double value = 0;
    auto [end, ec] = std::from_chars(text.data() + start, text.data() + i, value);
    if (ec != std::errc() || end != text.data() + i) return bad();
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(unit_start, i - unit_start);
    double scale;
    if (unit == "ms") scale = 1;
    else if (unit == "s" || (unit.empty() && start == 0 && i == text.size())) scale = 1000;
    else if (unit == "m") scale = 60e3;
    else if (unit == "h") scale = 3600e3;
    else if (unit == "us" || unit == "µs") scale = 1e-3;
    else return bad();
    total_ms += value * scale;
  }
  if (!std::isfinite(total_ms) || total_ms > 1e12) return bad();
  return static_cast<uint64_t>(std::llround(total_ms));
}

Result<void> apply_recovery_flags(const RecoveryFlags& f, json::Json& spec) {
  if (!f.restart.empty()) spec["restart"] = f.restart;
  if (!f.watchdog.empty()) spec["watchdog"] = f.watchdog;
  bool tuned = !f.health_interval.empty() || !f.health_timeout.empty() || !f.health_start_period.empty() ||
               f.health_retries.has_value();
  if (f.no_healthcheck) {
    if (!f.health_cmd.empty() || tuned) return fail(EINVAL, "--no-healthcheck conflicts with the other --health-* flags");
    spec["no_healthcheck"] = true;
    return {};
  }
  if (f.health_cmd.empty()) {
    if (tuned) return Unexpected(Error(EINVAL, "--health-interval, --health-timeout, --health-retries and "
                                               "--health-start-period need --health-cmd")
                                     .with_hint("e.g. --health-cmd 'test -f /tmp/ok' --health-interval 5s"));
    return {};
  }
  // As Docker's --health-cmd: run by the instance's shell (CMD-SHELL).
  json::Json h = {{"test", {"/bin/sh", "-c", f.health_cmd}}};
  auto put = [&](const std::string& text, const char* key, const char* flag) -> Result<void> {
    if (text.empty()) return {};
    h[key] = TRY_CTX(parse_duration_ms(text), "{}", flag);
    return {};
  };
  TRY(put(f.health_interval, "interval_ms", "--health-interval"));
  TRY(put(f.health_timeout, "timeout_ms", "--health-timeout"));
  TRY(put(f.health_start_period, "start_period_ms", "--health-start-period"));
  if (f.health_retries) h["retries"] = *f.health_retries;
  spec["healthcheck"] = h;
  return {};
}

}  // namespace vessel::cli
