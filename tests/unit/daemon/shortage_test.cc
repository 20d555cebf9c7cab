// A priority pool's memory shortage (policy/shortage.h): who is stopped or suspended, in order.
#include "daemon/policy/shortage.h"

#include <gtest/gtest.h>

namespace vessel::daemon {
namespace {

constexpr uint64_t kShortageMiB = uint64_t{1} << 20;

PoolMember wanting(const std::string& name, uint64_t mib, int priority, double share = 1) {
  PoolMember m;
  m.name = name;
  m.priority = priority;
  m.share = share;
  m.max = Resources{1, mib * kShortageMiB};
  return m;
}

TEST(ShortageVictims, NoneWhileTheLimitsFit) {
  EXPECT_TRUE(shortage_victims(128 * kShortageMiB, {wanting("a", 64, 0), wanting("b", 64, 5)}).empty());
  EXPECT_TRUE(shortage_victims(128 * kShortageMiB, {}).empty());
}

TEST(ShortageVictims, TheLowestPriorityGoesFirstUntilTheRestFit) {
  std::vector<PoolMember> m{wanting("high", 64, 10), wanting("low", 64, 0), wanting("mid", 64, 5)};
  EXPECT_EQ(shortage_victims(150 * kShortageMiB, m), (std::vector<std::string>{"low"}));
  EXPECT_EQ(shortage_victims(100 * kShortageMiB, m), (std::vector<std::string>{"low", "mid"}));
  EXPECT_EQ(shortage_victims(10 * kShortageMiB, m), (std::vector<std::string>{"low", "mid", "high"}))
      << "not even the highest fits alone";
}

TEST(ShortageVictims, AmongEqualsTheSmallerShareThenTheNewer) {
  std::vector<PoolMember> m{wanting("old", 64, 0, 2), wanting("small", 64, 0, 1), wanting("new", 64, 0, 2)};
  EXPECT_EQ(shortage_victims(130 * kShortageMiB, m), (std::vector<std::string>{"small"}));
  EXPECT_EQ(shortage_victims(70 * kShortageMiB, m), (std::vector<std::string>{"small", "new"}));
}

TEST(ShortageVictims, AMemberWithoutALimitWantsTheWholePool) {
  PoolMember unlimited;
  unlimited.name = "any";
  EXPECT_EQ(shortage_victims(128 * kShortageMiB, {wanting("high", 64, 10), unlimited}), (std::vector<std::string>{"any"}));
}

TEST(ShortageAction, ParsesItsNames) {
  for (auto a : {ShortageAction::None, ShortageAction::Evict, ShortageAction::Suspend})
    EXPECT_EQ(parse_shortage_action(to_string(a)), a);
  EXPECT_FALSE(parse_shortage_action("stop"));
}

}  // namespace
}  // namespace vessel::daemon
