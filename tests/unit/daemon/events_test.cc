#include <gtest/gtest.h>

#include <thread>

#include "daemon/health/events.h"

namespace vessel::daemon {
namespace {

TEST(EventBus, SubscriberSeesEventsInOrderFromItsStart) {
  EventBus bus;
  bus.publish({{"type", "old"}});
  uint64_t from = bus.next_seq();
  std::thread publisher([&] {
    for (int i = 0; i < 3; ++i) bus.publish({{"type", "e"}, {"i", i}});
  });
  std::string got;
  while (std::count(got.begin(), got.end(), '\n') < 3) got += bus.wait(from, 1000);
  publisher.join();
  EXPECT_EQ(got.find("old"), std::string::npos);
  auto first = got.find("\"i\":0"), second = got.find("\"i\":1"), third = got.find("\"i\":2");
  ASSERT_NE(third, std::string::npos) << got;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

TEST(EventBus, SlowSubscriberLosesOldestNotNewest) {
  EventBus bus(4);
  uint64_t from = bus.next_seq();
  for (int i = 0; i < 10; ++i) bus.publish({{"i", i}});
  std::string got = bus.wait(from, 0);
  EXPECT_EQ(std::count(got.begin(), got.end(), '\n'), 4);
  EXPECT_NE(got.find("\"i\":9"), std::string::npos);
  EXPECT_EQ(got.find("\"i\":5,"), std::string::npos);
}

TEST(EventBus, ShutdownWakesWaiters) {
  EventBus bus;
  uint64_t from = bus.next_seq();
  std::thread t([&] { bus.shutdown(); });
  auto start = std::chrono::steady_clock::now();
  bus.wait(from, 10000);
  t.join();
  EXPECT_TRUE(bus.stopped());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace vessel::daemon
