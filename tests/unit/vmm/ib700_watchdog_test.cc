#include "vmm/devices/legacy/ib700_watchdog.h"

#include <gtest/gtest.h>

#include "vmm/arch/x86_64/layout.h"
#include "vmm/bus/bus.h"

namespace vessel::vmm {
namespace {

using namespace std::chrono_literals;
using Clock = Ib700Watchdog::Clock;

// A watchdog on a port bus at its real ports, with a clock the test moves.
struct Wdt {
  Clock::time_point now = Clock::time_point(1000s);
  int sooner = 0;
  std::shared_ptr<Ib700Watchdog> dev =
      std::make_shared<Ib700Watchdog>([this] { ++sooner; }, [this] { return now; });
  Bus pio;
  Wdt() {
    EXPECT_TRUE(pio.insert(dev, x86::kPortIb700Stop, Ib700Watchdog::kPortCount).has_value());
    dev->resume();  // the VM runs
  }
  void out(uint16_t port, uint8_t value) { pio.write(port, std::span<const uint8_t>(&value, 1)); }
  void start(uint8_t value) { out(0x443, value); }
  void stop() { out(0x441, 0); }
};

TEST(Ib700Watchdog, TheStartPortsLowNibblePicksTheTimeoutFromTheTable) {
  EXPECT_EQ(Ib700Watchdog::timeout_of(0), 30s);
  EXPECT_EQ(Ib700Watchdog::timeout_of(1), 28s);
  EXPECT_EQ(Ib700Watchdog::timeout_of(14), 2s);
  EXPECT_EQ(Ib700Watchdog::timeout_of(15), 0s);
  EXPECT_EQ(Ib700Watchdog::timeout_of(0xf1), 28s);  // the high nibble is ignored
}

TEST(Ib700Watchdog, StoppedUntilTheGuestStartsIt) {
  Wdt w;
  EXPECT_FALSE(w.dev->deadline());
  w.now += 1h;
  EXPECT_FALSE(w.dev->expire());
}

TEST(Ib700Watchdog, ExpiresOnceAfterTheTimeoutWithoutPets) {
  Wdt w;
  w.start(13);  // 4 s
  EXPECT_EQ(w.sooner, 1);  // armed: the owner must wait again
  ASSERT_TRUE(w.dev->deadline());
  EXPECT_EQ(*w.dev->deadline(), w.now + 4s);
  w.now += 3999ms;
  EXPECT_FALSE(w.dev->expire());
  w.now += 1ms;
  EXPECT_TRUE(w.dev->expire());
  EXPECT_FALSE(w.dev->expire());  // it is stopped now
  EXPECT_FALSE(w.dev->deadline());
  EXPECT_EQ(w.dev->metrics()["expirations"], 1);
}

TEST(Ib700Watchdog, PetsPushTheDeadlineAndAreCounted) {
  Wdt w;
  w.start(14);  // 2 s
  for (int i = 0; i < 5; ++i) {
    w.now += 1500ms;
    EXPECT_FALSE(w.dev->expire());
    w.start(14);
  }
  EXPECT_EQ(w.sooner, 1);  // a pet moves the deadline later: no wake-up needed
  EXPECT_EQ(w.dev->metrics()["pets"], 6);
  w.now += 2s;
  EXPECT_TRUE(w.dev->expire());
}

TEST(Ib700Watchdog, AShorterTimeoutWakesTheOwner) {
  Wdt w;
  w.start(0);  // 30 s
  w.start(14);  // 2 s: earlier than the 30 s deadline
  EXPECT_EQ(w.sooner, 2);
  EXPECT_EQ(*w.dev->deadline(), w.now + 2s);
}

TEST(Ib700Watchdog, TheStopPortDisarmsIt) {
  Wdt w;
  w.start(14);
  w.stop();
  w.now += 1min;
  EXPECT_FALSE(w.dev->expire());
  EXPECT_EQ(w.dev->metrics()["stops"], 1);
  EXPECT_EQ(w.dev->metrics()["armed"], false);
}

TEST(Ib700Watchdog, TimeIsFrozenWhileTheVmIsPaused) {
  Wdt w;
  w.start(13);  // 4 s
  w.now += 3s;
  w.dev->pause();
  EXPECT_FALSE(w.dev->deadline());
  w.now += 1h;
  EXPECT_FALSE(w.dev->expire());
  w.dev->resume();
  EXPECT_EQ(*w.dev->deadline(), w.now + 1s);  // what was left
  w.now += 1s;
  EXPECT_TRUE(w.dev->expire());
}

TEST(Ib700Watchdog, SavesAndRestoresWhatIsLeft) {
  Wdt w;
  w.start(12);  // 6 s
  w.now += 2s;
  w.dev->pause();
  auto saved = w.dev->save_state();
  EXPECT_TRUE(saved.armed);
  EXPECT_EQ(saved.timeout_value, 12);
  EXPECT_EQ(saved.remaining_ms, 4000u);

  Wdt other;
  other.dev->pause();
  other.dev->restore_state(saved);
  EXPECT_FALSE(other.dev->deadline());  // paused until the VM runs
  other.dev->resume();
  EXPECT_EQ(*other.dev->deadline(), other.now + 4s);
}

TEST(Ib700Watchdog, ARestoredStateCannotWaitLongerThanItsTimeout) {
  Wdt w;
  w.dev->pause();
  w.dev->restore_state({true, 0xff, ~uint64_t{0}});  // a hostile file: value masked, time capped
  w.dev->resume();
  EXPECT_EQ(*w.dev->deadline(), w.now);  // value 15: 0 s
  snapshot::WatchdogState s{true, 0, ~uint64_t{0}};
  w.dev->pause();
  w.dev->restore_state(s);
  w.dev->resume();
  EXPECT_EQ(*w.dev->deadline(), w.now + 30s);
}

TEST(Ib700Watchdog, HostileAccessesNeverCrashOrArmIt) {
  Wdt w;
  // Reads of every port and width answer all ones; the unused port 0x442 and wide writes to the
  // stop port do nothing; a wide write to the start port uses its first byte.
  for (uint16_t port = 0x441; port <= 0x443; ++port) {
    for (size_t size : {1, 2, 4}) {
      uint8_t buf[4] = {1, 2, 3, 4};
      w.pio.read(port, std::span<uint8_t>(buf, size));
      for (size_t i = 0; i < size; ++i) EXPECT_EQ(buf[i], 0xff);
    }
  }
  uint8_t wide[4] = {14, 0xff, 0xff, 0xff};
  w.pio.write(0x442, std::span<const uint8_t>(wide, 4));
  w.pio.write(0x441, std::span<const uint8_t>(wide, 4));
  EXPECT_FALSE(w.dev->deadline());
  w.pio.write(0x443, std::span<const uint8_t>(wide, 2));
  EXPECT_EQ(*w.dev->deadline(), w.now + 2s);
  // Timeout 0 (value 15) expires at once, as on the board.
  w.start(15);
  EXPECT_TRUE(w.dev->expire());
}

}  // namespace
}  // namespace vessel::vmm
