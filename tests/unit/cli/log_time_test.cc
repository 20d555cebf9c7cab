#include "cli/log_time.h"

#include <gtest/gtest.h>

namespace vessel::cli {
namespace {

constexpr int64_t kNow = 1764963000'000000000;

TEST(LogTime, AgesTimesAndUnixSeconds) {
  EXPECT_EQ(*parse_log_time("10m", "--since", kNow), "1764962400.000000000");
  EXPECT_EQ(*parse_log_time("1h30m", "--since", kNow), "1764957600.000000000");
  EXPECT_EQ(*parse_log_time("2025-12-05T19:30:00.25Z", "--since", kNow), "1764963000.250000000");
  EXPECT_EQ(*parse_log_time("1764963000", "--until", kNow), "1764963000.000000000");
  auto bad = parse_log_time("yesterday", "--since", kNow);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("--since yesterday"), std::string::npos);
  EXPECT_NE(bad.error().hint().find("10m"), std::string::npos);
  EXPECT_FALSE(parse_log_time("1.2.3", "--since", kNow));
}

}  // namespace
}  // namespace vessel::cli
