#include "cli/log_time.h"

#include "base/log_stamp.h"
#include "cli/recovery_flags.h"

namespace vessel::cli {

Result<std::string> parse_log_time(const std::string& text, const char* flag, int64_t now_ns) {
  auto at = parse_time_point(text);
  if (!at) {
    auto age = parse_duration_ms(text);
    if (!age || text.find_first_not_of("0123456789.") == std::string::npos)
      return Unexpected(Error(EINVAL, fmt::format("{} {}: not a time", flag, text.substr(0, 64)))
                            .with_hint("RFC 3339 (2026-12-05T19:30:00Z), unix seconds, or an age such as 10m or 1h30m"));
    at = now_ns - static_cast<int64_t>(*age) * 1'000'000;
  }
  if (*at < 0) at = 0;
  return fmt::format("{}.{:09}", *at / 1'000'000'000, *at % 1'000'000'000);
}

Result<std::string> parse_log_time(const std::string& text, const char* flag) {
  return parse_log_time(text, flag, unix_now_ns());
}

}  // namespace vessel::cli
