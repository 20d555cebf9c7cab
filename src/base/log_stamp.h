// The time stamp before each line of a guest's log (a container's output, a VM's console): the
// time vessel-shim received the line, RFC 3339 in UTC with nanoseconds, then a space:
//   2026-12-05T19:30:00.123456789Z hello
// It is what `vessel logs -t` prints (Docker's format); without -t the stamps are cut off, and
// --since/--until select lines by them. A log written without the shim has no stamps: its lines
// are shown as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vessel {

inline constexpr size_t kLogStampSize = 31;  // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ "

// The stamp for `unix_ns`, its trailing space included.
std::string format_log_stamp(int64_t unix_ns);
// The time of the stamp `line` starts with; none when it does not start with one.
std::optional<int64_t> parse_log_stamp(std::string_view line);
// A point in time a user or client names: RFC 3339 ("2026-12-05T19:30:00Z",
// "2026-12-05T20:30:00.5+01:00") or unix seconds ("1764963000", "1764963000.25"); unix ns.
std::optional<int64_t> parse_time_point(std::string_view text);
// Now, in unix ns.
int64_t unix_now_ns();

// Puts a stamp before every line that begins in the chunks it is given, in order.
class LineStamper {
 public:
  std::string stamp(std::string_view chunk, int64_t now_ns);

 private:
  bool at_line_start_ = true;
};

}  // namespace vessel
