#include "vmm/devices/legacy/cmos_rtc.h"

#include <gtest/gtest.h>

namespace vessel::vmm {
namespace {

// 2026-12-05 03:07:09 UTC, a Saturday.
constexpr time_t kNow = 1796440029;

struct Rtc {
  time_t now = kNow;
  CmosRtc dev{[this] { return now; }};
  uint8_t get(uint8_t reg) {
    uint8_t index = reg | 0x80;  // NMIs masked, as Linux writes it
    dev.write(0, {&index, 1});
    uint8_t v = 0;
    dev.read(1, {&v, 1});
    return v;
  }
  void set(uint8_t reg, uint8_t value) {
    dev.write(0, {&reg, 1});
    dev.write(1, {&value, 1});
  }
};

TEST(CmosRtc, ReadsTheHostClockInBcdWith24Hours) {
  Rtc rtc;
  EXPECT_EQ(rtc.get(CmosRtc::kSeconds), 0x09);
  EXPECT_EQ(rtc.get(CmosRtc::kMinutes), 0x07);
  EXPECT_EQ(rtc.get(CmosRtc::kHours), 0x03);
  EXPECT_EQ(rtc.get(CmosRtc::kWeekday), 0x07);  // Saturday; 1 is Sunday
  EXPECT_EQ(rtc.get(CmosRtc::kDay), 0x05);
  EXPECT_EQ(rtc.get(CmosRtc::kMonth), 0x12);
  EXPECT_EQ(rtc.get(CmosRtc::kYear), 0x26);
  EXPECT_EQ(rtc.get(CmosRtc::kCentury), 0x20);
  rtc.now += 61;
  EXPECT_EQ(rtc.get(CmosRtc::kSeconds), 0x10);
  EXPECT_EQ(rtc.get(CmosRtc::kMinutes), 0x08);
}

TEST(CmosRtc, UpdateIsNeverInProgressAndTheBatteryIsGood) {
  // Linux polls bit 7 of register A until it clears: with nothing at the port it never does.
  Rtc rtc;
  EXPECT_EQ(rtc.get(CmosRtc::kStatusA) & 0x80, 0);
  rtc.set(CmosRtc::kStatusA, 0xa6);
  EXPECT_EQ(rtc.get(CmosRtc::kStatusA), 0x26);
  EXPECT_EQ(rtc.get(CmosRtc::kStatusD), 0x80);
  EXPECT_EQ(rtc.get(CmosRtc::kStatusC), 0);
}

TEST(CmosRtc, BinaryAnd12HourModesFollowRegisterB) {
  Rtc rtc;
  rtc.now += 12 * 3600;  // 15:07
  rtc.set(CmosRtc::kStatusB, CmosRtc::kStatusBBinary);
  EXPECT_EQ(rtc.get(CmosRtc::kHours), 0x80 | 3);  // 3 PM
  EXPECT_EQ(rtc.get(CmosRtc::kMonth), 12);
  rtc.set(CmosRtc::kStatusB, CmosRtc::kStatusBBinary | CmosRtc::kStatusB24Hour);
  EXPECT_EQ(rtc.get(CmosRtc::kHours), 15);
}

TEST(CmosRtc, SettingTheTimeUnderSetMovesOnlyThisClock) {
  // What Linux's mc146818_set_time does: SET on, every field, SET off.
  Rtc rtc;
  rtc.set(CmosRtc::kStatusB, CmosRtc::kStatusB24Hour | CmosRtc::kStatusBSet);
  rtc.now += 5;  // frozen while SET is on
  EXPECT_EQ(rtc.get(CmosRtc::kSeconds), 0x09);
  rtc.set(CmosRtc::kDay, 0x31);  // 31 November would not exist: fields apply together
  rtc.set(CmosRtc::kMonth, 0x01);
  rtc.set(CmosRtc::kYear, 0x30);
  rtc.set(CmosRtc::kHours, 0x23);
  rtc.set(CmosRtc::kMinutes, 0x59);
  rtc.set(CmosRtc::kSeconds, 0x58);
  rtc.set(CmosRtc::kStatusB, CmosRtc::kStatusB24Hour);
  EXPECT_EQ(rtc.get(CmosRtc::kDay), 0x31);
  EXPECT_EQ(rtc.get(CmosRtc::kMonth), 0x01);
  EXPECT_EQ(rtc.get(CmosRtc::kYear), 0x30);
  rtc.now += 3;  // and it runs again: over midnight into February
  EXPECT_EQ(rtc.get(CmosRtc::kSeconds), 0x01);
  EXPECT_EQ(rtc.get(CmosRtc::kDay), 0x01);
  EXPECT_EQ(rtc.get(CmosRtc::kMonth), 0x02);
}

TEST(CmosRtc, RamKeepsWhatTheGuestWritesAndTheIndexIgnoresTheNmiBit) {
  Rtc rtc;
  rtc.set(0x40, 0xab);
  rtc.set(0x7f, 0x11);
  EXPECT_EQ(rtc.get(0x40), 0xab);
  EXPECT_EQ(rtc.get(0x7f), 0x11);
  uint8_t index = 0xc0;  // 0x40 with the NMI mask bit
  rtc.dev.write(0, {&index, 1});
  uint8_t v = 0;
  rtc.dev.read(1, {&v, 1});
  EXPECT_EQ(v, 0xab);
  rtc.set(CmosRtc::kStatusC, 0xff);
  rtc.set(CmosRtc::kStatusD, 0x00);
  EXPECT_EQ(rtc.get(CmosRtc::kStatusC), 0);
  EXPECT_EQ(rtc.get(CmosRtc::kStatusD), 0x80);
}

// Snapshots: NVRAM, registers and the guest's clock offset move to a new device; the restored
// clock goes on from the host's time then (an hour later here), as a real RTC through a suspend.
TEST(CmosRtc, SavedStateMovesToANewDevice) {
  Rtc a;
  a.set(0x40, 0x5a);                                   // NVRAM
  a.set(CmosRtc::kStatusB, 0x80 | CmosRtc::kStatusB24Hour);  // SET: the guest writes the time
  a.set(CmosRtc::kHours, 0x01);                          // 01:07:09, two hours behind the host
  a.set(CmosRtc::kStatusB, CmosRtc::kStatusB24Hour);
  auto st = a.dev.save_state();
  EXPECT_FALSE(st.setting);
  Rtc b;
  b.now = kNow + 3600;
  b.dev.restore_state(st);
  EXPECT_EQ(b.get(0x40), 0x5a);
  EXPECT_EQ(b.get(CmosRtc::kHours), 0x02);  // 01:07 + the hour that passed on the host
  EXPECT_EQ(b.get(CmosRtc::kMinutes), 0x07);
}

}  // namespace
}  // namespace vessel::vmm
