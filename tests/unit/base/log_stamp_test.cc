// The stamps before each line of a guest's log (base/log_stamp.h).
#include "base/log_stamp.h"

#include <gtest/gtest.h>

namespace vessel {
namespace {

constexpr int64_t kAt = 1764963000'123456789;  // 2025-12-05T19:30:00.123456789Z

TEST(LogStamp, FormatsAndParsesRfc3339WithNanoseconds) {
  EXPECT_EQ(format_log_stamp(kAt), "2025-12-05T19:30:00.123456789Z ");
  EXPECT_EQ(format_log_stamp(kAt).size(), kLogStampSize);
  EXPECT_EQ(parse_log_stamp("2025-12-05T19:30:00.123456789Z hello\n"), kAt);
  EXPECT_EQ(parse_log_stamp(format_log_stamp(7)), 7);
  EXPECT_EQ(parse_log_stamp("hello\n"), std::nullopt);
  EXPECT_EQ(parse_log_stamp("2025-12-05T19:30:00.123456789Zhello"), std::nullopt) << "no space";
  EXPECT_EQ(parse_log_stamp("2025-13-05T19:30:00.123456789Z x"), std::nullopt) << "month 13";
  EXPECT_EQ(parse_log_stamp("2025-12-05T19:30:00.12345678xZ x"), std::nullopt);
}

TEST(LogStamp, TimePointsAsUsersWriteThem) {
  EXPECT_EQ(parse_time_point("2025-12-05T19:30:00Z"), 1764963000'000000000);
  EXPECT_EQ(parse_time_point("2025-12-05T19:30:00.5Z"), 1764963000'500000000);
  EXPECT_EQ(parse_time_point("2025-12-05T20:30:00+01:00"), 1764963000'000000000);
  EXPECT_EQ(parse_time_point("2025-12-05T17:00:00-02:30"), 1764963000'000000000);
  EXPECT_EQ(parse_time_point("1764963000"), 1764963000'000000000);
  EXPECT_EQ(parse_time_point("1764963000.25"), 1764963000'250000000);
  EXPECT_EQ(parse_time_point("2025-12-05T19:30:00.123456789123Z"), 1764963000'123456789) << "beyond ns: cut";
  for (const char* bad : {"", "yesterday", "10m", "2025-12-05", "2025-12-05T19:30:00", "2025-12-05T19:30:00+1",
                          "-5", "17649630001764963000", "1.2.3", "1764963000.", "2025-12-05T19:30:00Zjunk"})
    EXPECT_EQ(parse_time_point(bad), std::nullopt) << bad;
}

TEST(LogStamp, EveryLineThatBeginsGetsOneAcrossChunks) {
  LineStamper s;
  std::string stamp = format_log_stamp(kAt), later = format_log_stamp(kAt + 1);
  EXPECT_EQ(s.stamp("one\ntwo", kAt), stamp + "one\n" + stamp + "two");
  EXPECT_EQ(s.stamp(" more\n", kAt + 1), " more\n") << "a line's rest carries no stamp";
  EXPECT_EQ(s.stamp("\n\n", kAt + 1), later + "\n" + later + "\n");
  EXPECT_EQ(s.stamp("", kAt + 1), "");
  EXPECT_EQ(s.stamp("$ ", kAt + 1), later + "$ ");
}

}  // namespace
}  // namespace vessel
