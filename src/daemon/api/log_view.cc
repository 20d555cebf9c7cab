#include "daemon/api/log_view.h"

#include <charconv>

#include "base/log_stamp.h"

namespace vessel::daemon {

namespace {

Result<std::optional<int64_t>> time_arg(const http::Request& r, const char* key) {
  std::string text = r.query_arg(key);
  if (text.empty()) return std::optional<int64_t>();
  auto t = parse_time_point(text);
  if (!t)
    return Unexpected(Error(EINVAL, fmt::format("{}={}: not a time", key, text.substr(0, 64)))
                          .with_hint("RFC 3339 (2026-12-05T19:30:00Z) or unix seconds (1764963000.5)"));
  return std::optional<int64_t>(*t);
}

}  // namespace

Result<LogQuery> parse_log_query(const http::Request& r) {
  LogQuery q;
  q.follow = r.query_flag("follow");
  q.timestamps = r.query_flag("timestamps");
  q.since_ns = TRY(time_arg(r, "since"));
  q.until_ns = TRY(time_arg(r, "until"));
  std::string tail = r.query_arg("tail");
  if (!tail.empty() && tail != "all") {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), n);
    if (ec != std::errc() || end != tail.data() + tail.size())
      return Unexpected(Error(EINVAL, fmt::format("tail={}: not a number of lines", tail.substr(0, 64)))
                            .with_hint("tail=N or tail=all"));
    q.tail = n;
  }
  return q;
}

void LogLineFilter::decide(std::string& out) {
  auto stamp = parse_log_stamp(head_);
  std::string_view shown = head_;
  if (stamp) {
    last_ns_ = *stamp;
    if (!query_.timestamps) shown.remove_prefix(kLogStampSize);
    if (query_.until_ns && *stamp > *query_.until_ns) past_until_ = true;
  }
  showing_ = true;
  if (query_.since_ns && (!last_ns_ || *last_ns_ < *query_.since_ns)) showing_ = false;
  if (query_.until_ns && last_ns_ && *last_ns_ > *query_.until_ns) showing_ = false;
  if (showing_) out.append(shown);
  at_line_start_ = !head_.empty() && head_.back() == '\n';
  head_.clear();
}

void LogLineFilter::feed(std::string_view bytes, std::string& out) {
  while (!bytes.empty()) {
    if (at_line_start_ || !head_.empty()) {
      // Gather the line's first bytes: a stamp, or a whole line shorter than one.
      at_line_start_ = false;
      size_t want = kLogStampSize - head_.size();
      size_t nl = bytes.substr(0, want).find('\n');
      size_t take = nl == std::string_view::npos ? std::min(want, bytes.size()) : nl + 1;
      head_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (head_.size() == kLogStampSize || head_.back() == '\n') decide(out);
      continue;
    }
    size_t nl = bytes.find('\n');
    size_t take = nl == std::string_view::npos ? bytes.size() : nl + 1;
    if (showing_) out.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (nl != std::string_view::npos) at_line_start_ = true;
  }
}

void LogLineFilter::finish(std::string& out) {
  if (!head_.empty()) decide(out);
}

std::string_view last_lines(std::string_view text, uint64_t n) {
  if (n == 0) return {};
  size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;  // the final newline ends the last line
  uint64_t seen = 0;
  for (size_t i = end; i-- > 0;)
    if (text[i] == '\n' && ++seen == n) return text.substr(i + 1);
  return text;
}

}  // namespace vessel::daemon
