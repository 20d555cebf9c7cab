// What GET /v1/instances/NAME/logs shows of a log (Docker's logs options): the lines stamped
// (base/log_stamp.h) between `since` and `until`, the last `tail` of them, with or without their
// stamps. Lines without a stamp (a log written without vessel-shim) take the time of the stamped
// line before them (none: they count as older than any --since) and are shown as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "http/http.h"

namespace vessel::daemon {

struct LogQuery {
  bool follow = false;
  bool timestamps = false;          // keep each line's stamp (`vessel logs -t`)
  std::optional<int64_t> since_ns;  // unix ns: lines stamped at or after it
  std::optional<int64_t> until_ns;  // unix ns: lines stamped at or before it
  std::optional<uint64_t> tail;     // the last N lines only
};

// ?follow, ?timestamps, ?since=TIME, ?until=TIME (RFC 3339 or unix seconds), ?tail=N|all.
Result<LogQuery> parse_log_query(const http::Request& request);

// Turns the log's bytes, fed in order, into what the query shows. Lines are decided at their
// start and then passed through as their bytes come: a prompt without a newline still shows.
class LogLineFilter {
 public:
  explicit LogLineFilter(const LogQuery& query) : query_(query) {}
  void feed(std::string_view bytes, std::string& out);
  // At the end of the log: a last line shorter than a stamp is decided now.
  void finish(std::string& out);
  // A line stamped after `until` came: no later line can show.
  bool past_until() const { return past_until_; }

 private:
  void decide(std::string& out);

  LogQuery query_;
  bool at_line_start_ = true;
  std::string head_;  // the start of the current line, until it is long enough to hold a stamp
  bool showing_ = false;
  bool past_until_ = false;
  std::optional<int64_t> last_ns_;  // the stamp of the latest stamped line
};

// The last `n` lines of `text` (a final line without a newline counts as one).
std::string_view last_lines(std::string_view text, uint64_t n);

}  // namespace vessel::daemon
