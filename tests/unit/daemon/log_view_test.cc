// What GET /v1/instances/NAME/logs shows of a stamped log (daemon/api/log_view.h).
#include "daemon/api/log_view.h"

#include <gtest/gtest.h>

#include "base/log_stamp.h"

namespace vessel::daemon {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1764963000 * kSecond;

std::string stamped_log() {
  LineStamper s;
  std::string log = s.stamp("one\n", kT0);  // one statement each: the order of a + b is unspecified
  log += s.stamp("two\nthr", kT0 + kSecond);
  log += s.stamp("ee\n", kT0 + 2 * kSecond);
  log += s.stamp("four\n", kT0 + 3 * kSecond);
  return log;
}

// Feeds `log` in pieces of `piece` bytes, as the reader hands it over.
std::string view(const std::string& log, LogQuery q, size_t piece = 7) {
  LogLineFilter f(q);
  std::string out;
  for (size_t at = 0; at < log.size(); at += piece) f.feed(std::string_view(log).substr(at, piece), out);
  f.finish(out);
  return out;
}

TEST(LogView, StampsAreCutUnlessAskedFor) {
  for (size_t piece : {1, 3, 7, 31, 32, 1000}) EXPECT_EQ(view(stamped_log(), {}, piece), "one\ntwo\nthree\nfour\n") << piece;
  LogQuery t;
  t.timestamps = true;
  EXPECT_EQ(view(stamped_log(), t), stamped_log());
}

TEST(LogView, SinceAndUntilSelectByStamp) {
  LogQuery q;
  q.since_ns = kT0 + kSecond;
  q.until_ns = kT0 + 2 * kSecond;
  EXPECT_EQ(view(stamped_log(), q), "two\nthree\n") << "a line is timed by its start";
  LogLineFilter f(q);
  std::string out;
  f.feed(stamped_log(), out);
  EXPECT_TRUE(f.past_until());
}

TEST(LogView, UnstampedLinesShowAsTheyAreAndTakeTheTimeBefore) {
  EXPECT_EQ(view("plain\n\nno stamps here, a line longer than a stamp is\nlast", {}), "plain\n\nno stamps here, a line longer than a stamp is\nlast");
  LogQuery since;
  since.since_ns = kT0;
  EXPECT_EQ(view("old\n", since), "") << "no stamp before it: older than any --since";
  EXPECT_EQ(view(format_log_stamp(kT0) + "new\nits tail, written without the shim\n", since),
            "new\nits tail, written without the shim\n");
}

TEST(LogView, LastLines) {
  EXPECT_EQ(last_lines("a\nb\nc\n", 2), "b\nc\n");
  EXPECT_EQ(last_lines("a\nb\nc", 2), "b\nc");
  EXPECT_EQ(last_lines("a\nb\n", 5), "a\nb\n");
  EXPECT_EQ(last_lines("a\nb\n", 0), "");
  EXPECT_EQ(last_lines("", 3), "");
}

TEST(LogView, QueryArguments) {
  http::Request r;
  r.query = {{"tail", "3"}, {"since", "2025-12-05T19:30:00Z"}, {"until", "1764963010.5"}, {"timestamps", "1"}};
  auto q = parse_log_query(r);
  ASSERT_TRUE(q) << q.error().to_string();
  EXPECT_EQ(q->tail, 3u);
  EXPECT_EQ(q->since_ns, kT0);
  EXPECT_EQ(q->until_ns, kT0 + 10 * kSecond + kSecond / 2);
  EXPECT_TRUE(q->timestamps);
  EXPECT_FALSE(q->follow);
  r.query = {{"tail", "all"}};
  EXPECT_FALSE(parse_log_query(r)->tail.has_value());
  for (auto [key, value] : {std::pair{"tail", "-1"}, {"tail", "3x"}, {"since", "yesterday"}, {"until", "10m"}}) {
    r.query = {{key, value}};
    auto bad = parse_log_query(r);
    ASSERT_FALSE(bad) << key << "=" << value;
    EXPECT_EQ(bad.error().errnum(), EINVAL);
  }
}

}  // namespace
}  // namespace vessel::daemon
