#include <gtest/gtest.h>

#include "vmm/arch/x86_64/layout.h"
#include "vmm/devices/legacy/i8042.h"
#include "vmm/devices/legacy/power_ports.h"

namespace vessel::vmm {
namespace {

struct Events {
  std::vector<VmEvent> seen;
  EventSink sink() {
    return [this](VmEvent e) { seen.push_back(e); };
  }
};

void wr(BusDevice& d, uint64_t off, uint8_t v) { d.write(off, {&v, 1}); }
uint8_t rd(BusDevice& d, uint64_t off) {
  uint8_t v = 0;
  d.read(off, {&v, 1});
  return v;
}

TEST(I8042, ResetCommandAndOutputPortPulseRequestAReboot) {
  Events e;
  I8042 kbd(e.sink());
  wr(kbd, 4, 0xaa);  // self test
  EXPECT_EQ(rd(kbd, 4) & 1, 1);
  EXPECT_EQ(rd(kbd, 0), 0x55);
  EXPECT_TRUE(e.seen.empty());
  wr(kbd, 4, 0xfe);
  ASSERT_EQ(e.seen.size(), 1u);
  EXPECT_EQ(e.seen[0].kind, VmEvent::Kind::Reboot);
  wr(kbd, 4, 0xd1);
  wr(kbd, 0, 0xfe);  // output port with the reset line low
  EXPECT_EQ(e.seen.size(), 2u);
}

TEST(I8042, CommandByteRoundTrips) {
  Events e;
  I8042 kbd(e.sink());
  wr(kbd, 4, 0x60);
  wr(kbd, 0, 0x45);
  wr(kbd, 4, 0x20);
  EXPECT_EQ(rd(kbd, 0), 0x45);
  EXPECT_TRUE(e.seen.empty());
}

struct CountingIrq : InterruptLine {
  int triggers = 0;
  Result<void> trigger() override {
    ++triggers;
    return {};
  }
};

TEST(I8042, CtrlAltDelIsSet2MakeCodesWithOneInterruptPerByte) {
  Events e;
  auto irq = std::make_shared<CountingIrq>();
  I8042 kbd(e.sink(), irq);
  ASSERT_TRUE(kbd.send_ctrl_alt_del());  // keyboard interrupt still off: queued, no IRQ
  EXPECT_EQ(irq->triggers, 0);
  wr(kbd, 4, 0x60);
  wr(kbd, 0, 0x01);  // enable the keyboard interrupt: the pending byte raises IRQ 1
  EXPECT_EQ(irq->triggers, 1);
  std::vector<uint8_t> got;
  while (rd(kbd, 4) & 1) got.push_back(rd(kbd, 0));
  EXPECT_EQ(got, (std::vector<uint8_t>{0x14, 0x11, 0xe0, 0x71}));
  EXPECT_EQ(irq->triggers, 4);  // one more for each byte left after a read
  EXPECT_TRUE(e.seen.empty());
}

TEST(I8042, TranslateBitGivesSet1Codes) {
  Events e;
  auto irq = std::make_shared<CountingIrq>();
  I8042 kbd(e.sink(), irq);
  wr(kbd, 4, 0x60);
  wr(kbd, 0, 0x41);
  ASSERT_TRUE(kbd.send_ctrl_alt_del());
  EXPECT_EQ(irq->triggers, 1);
  std::vector<uint8_t> got;
  while (rd(kbd, 4) & 1) got.push_back(rd(kbd, 0));
  EXPECT_EQ(got, (std::vector<uint8_t>{0x1d, 0x38, 0xe0, 0x53}));
}

TEST(I8042, KeyboardAnswersProbeCommandsAndAFullBufferIsAnError) {
  Events e;
  I8042 kbd(e.sink());
  wr(kbd, 0, 0xf2);  // GETID
  EXPECT_EQ(rd(kbd, 0), 0xfa);
  EXPECT_EQ(rd(kbd, 0), 0xab);
  EXPECT_EQ(rd(kbd, 0), 0x83);
  wr(kbd, 0, 0xed);  // SETLEDS + parameter: two ACKs
  wr(kbd, 0, 0x00);
  EXPECT_EQ(rd(kbd, 0), 0xfa);
  EXPECT_EQ(rd(kbd, 0), 0xfa);
  EXPECT_EQ(rd(kbd, 4) & 1, 0);
  // A guest that never reads: the buffer fills, SendCtrlAltDel fails instead of growing it.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(kbd.send_ctrl_alt_del());
  auto r = kbd.send_ctrl_alt_del();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("buffer is full"), std::string::npos);
  kbd.reset();
  EXPECT_EQ(rd(kbd, 4) & 1, 0);
}

// What Linux's i8042_check_aux does: the AUX loopback gets no answer and the AUX interface test
// reports a stuck clock, so the driver registers the keyboard port only. Bytes for the absent
// mouse never reach the keyboard.
TEST(I8042, NoAuxPortAsLinuxProbesIt) {
  Events e;
  I8042 kbd(e.sink());
  EXPECT_EQ(rd(kbd, 4) & 0x10, 0x10);  // not inhibited
  wr(kbd, 4, 0xd3);  // AUX loopback
  wr(kbd, 0, 0x5a);
  EXPECT_EQ(rd(kbd, 4) & 1, 0);
  wr(kbd, 4, 0xa9);  // AUX interface test
  EXPECT_EQ(rd(kbd, 0), 0x02);
  wr(kbd, 4, 0xd4);  // a byte for the mouse
  wr(kbd, 0, 0xf4);
  EXPECT_EQ(rd(kbd, 4) & 1, 0);
  wr(kbd, 4, 0xa7);  // disable AUX: the command byte says so
  wr(kbd, 4, 0x20);
  EXPECT_EQ(rd(kbd, 0) & 0x20, 0x20);
  wr(kbd, 4, 0xa8);
  wr(kbd, 4, 0x20);
  EXPECT_EQ(rd(kbd, 0) & 0x20, 0);
  wr(kbd, 4, 0xd2);  // write the keyboard output buffer: read back as keyboard data
  wr(kbd, 0, 0x42);
  EXPECT_EQ(rd(kbd, 0), 0x42);
  EXPECT_TRUE(e.seen.empty());
}

TEST(AcpiPower, OnlyS5WithSleepEnablePowersOff) {
  Events e;
  AcpiPower pm(e.sink());
  wr(pm, 0, 5 << 2);  // SLP_TYP without SLP_EN
  wr(pm, 0, (3 << 2) | (1 << 5));  // S3: not supported, ignored
  EXPECT_TRUE(e.seen.empty());
  wr(pm, 0, (5 << 2) | (1 << 5));
  ASSERT_EQ(e.seen.size(), 1u);
  EXPECT_EQ(e.seen[0].kind, VmEvent::Kind::Poweroff);
  wr(pm, 2, x86::kAcpiResetValue);
  EXPECT_EQ(e.seen.back().kind, VmEvent::Kind::Reboot);
}

TEST(DebugExit, CarriesTheCode) {
  Events e;
  DebugExit d(e.sink());
  wr(d, 0, 42);
  ASSERT_EQ(e.seen.size(), 1u);
  EXPECT_EQ(e.seen[0].kind, VmEvent::Kind::DebugExit);
  EXPECT_EQ(e.seen[0].code, 42);
}

}  // namespace
}  // namespace vessel::vmm
