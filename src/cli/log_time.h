// `vessel logs --since/--until TIME`: a point in time as Docker takes it, sent to vesseld as
// unix seconds.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"

namespace vessel::cli {

// RFC 3339 ("2026-12-05T19:30:00Z"), unix seconds ("1764963000.5") or an age before `now_ns`
// ("10m", "1h30m", "45s") -> "SECONDS.NANOSECONDS" since the epoch. EINVAL names `flag`.
Result<std::string> parse_log_time(const std::string& text, const char* flag, int64_t now_ns);
Result<std::string> parse_log_time(const std::string& text, const char* flag);

}  // namespace vessel::cli
