#include "base/log_stamp.h"

#include <time.h>

#include <charconv>

#include <fmt/format.h>

namespace vessel {

namespace {

constexpr int64_t kNsPerS = 1'000'000'000;

// `n` digits at text[at..] as a number; none when they are not all digits.
std::optional<int64_t> digits(std::string_view text, size_t at, size_t n) {
  if (at + n > text.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

// "YYYY-MM-DDTHH:MM:SS" at the start of `text`, as unix seconds (UTC).
std::optional<int64_t> date_time(std::string_view text) {
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
      text[13] != ':' || text[16] != ':')
    return std::nullopt;
  auto y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
  auto h = digits(text, 11, 2), mi = digits(text, 14, 2), s = digits(text, 17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *s > 60)
    return std::nullopt;
  struct tm t = {};
  t.tm_year = static_cast<int>(*y - 1900);
  t.tm_mon = static_cast<int>(*mo - 1);
  t.tm_mday = static_cast<int>(*d);
  t.tm_hour = static_cast<int>(*h);
  t.tm_min = static_cast<int>(*mi);
  t.tm_sec = static_cast<int>(*s);
  return static_cast<int64_t>(::timegm(&t));
}

// ".123" -> 123000000 ns; `used` gets the characters taken (0 without a fraction).
int64_t fraction_ns(std::string_view text, size_t& used) {
  used = 0;
  if (text.empty() || text[0] != '.') return 0;
  int64_t ns = 0, scale = kNsPerS;
  size_t i = 1;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
    if (scale > 1) ns += (text[i] - '0') * (scale /= 10);
  if (i == 1) return 0;  // a '.' without digits: not a fraction
  used = i;
  return ns;
}

}  // namespace

std::string format_log_stamp(int64_t unix_ns) {
  time_t secs = static_cast<time_t>(unix_ns / kNsPerS);
  struct tm t = {};
  ::gmtime_r(&secs, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                     t.tm_min, t.tm_sec, unix_ns % kNsPerS);
}

std::optional<int64_t> parse_log_stamp(std::string_view line) {
  if (line.size() < kLogStampSize || line[19] != '.' || line[29] != 'Z' || line[30] != ' ') return std::nullopt;
  auto secs = date_time(line);
  auto ns = digits(line, 20, 9);
  if (!secs || !ns) return std::nullopt;
  return *secs * kNsPerS + *ns;
}

std::optional<int64_t> parse_time_point(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  if (auto secs = date_time(text)) {
    size_t used = 0;
    int64_t ns = fraction_ns(text.substr(19), used);
    std::string_view zone = text.substr(19 + used);
    int64_t offset = 0;
    if (zone == "Z" || zone == "z") {
      offset = 0;
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
      auto h = digits(zone, 1, 2), m = digits(zone, 4, 2);
      if (!h || !m || *h > 23 || *m > 59) return std::nullopt;
      offset = (*h * 3600 + *m * 60) * (zone[0] == '+' ? 1 : -1);
    } else {
      return std::nullopt;
    }
    return (*secs - offset) * kNsPerS + ns;
  }
  // Unix seconds, with an optional fraction.
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  int64_t secs = 0;
  auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), secs);
  if (ec != std::errc() || end != whole.data() + whole.size() || secs < 0 || secs > 100'000'000'000) return std::nullopt;
  size_t used = 0;
  int64_t ns = dot == std::string_view::npos ? 0 : fraction_ns(text.substr(dot), used);
  if (dot != std::string_view::npos && dot + used != text.size()) return std::nullopt;
  return secs * kNsPerS + ns;
}

int64_t unix_now_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerS + ts.tv_nsec;
}

std::string LineStamper::stamp(std::string_view chunk, int64_t now_ns) {
  std::string out;
  out.reserve(chunk.size() + kLogStampSize * 2);
  std::string stamp;  // one time for the whole chunk: it arrived at once
  size_t at = 0;
  while (at < chunk.size()) {
    if (at_line_start_) {
      if (stamp.empty()) stamp = format_log_stamp(now_ns);
      out += stamp;
      at_line_start_ = false;
    }
    size_t nl = chunk.find('\n', at);
    size_t end = nl == std::string_view::npos ? chunk.size() : nl + 1;
    out.append(chunk.substr(at, end - at));
    if (nl != std::string_view::npos) at_line_start_ = true;
    at = end;
  }
  return out;
}

}  // namespace vessel
