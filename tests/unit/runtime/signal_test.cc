#include <gtest/gtest.h>
#include <signal.h>

#include "runtime/container.h"

namespace vessel::runtime {
namespace {

TEST(ParseSignal, NamesNumbersAndRealtimeOffsets) {
  EXPECT_EQ(parse_signal("KILL").value_or(0), SIGKILL);
  EXPECT_EQ(parse_signal("sigterm").value_or(0), SIGTERM);
  EXPECT_EQ(parse_signal("Int").value_or(0), SIGINT);
  EXPECT_EQ(parse_signal("10").value_or(0), 10);
  EXPECT_EQ(parse_signal("RTMIN+3").value_or(0), SIGRTMIN + 3);
  EXPECT_EQ(parse_signal("SIGRTMAX-1").value_or(0), SIGRTMAX - 1);
}

TEST(ParseSignal, NonsenseIsRefused) {
  for (const char* bad : {"", "NOPE", "0", "65", "-9", "9x", "RTMIN+", "RTMIN+99", "RTMAX-99999999999", "RTMIN+-1", "RTMIN+3x"})
    EXPECT_FALSE(parse_signal(bad)) << bad;
}

}  // namespace
}  // namespace vessel::runtime
