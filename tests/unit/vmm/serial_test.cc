#include "vmm/devices/legacy/serial.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>

namespace vessel::vmm {
namespace {

struct CountingLine : InterruptLine {
  std::atomic<int> count{0};
  Result<void> trigger() override {
    ++count;
    return {};
  }
};

struct Pipe {
  int fds[2];
  Pipe() { EXPECT_EQ(pipe(fds), 0); }
  ~Pipe() {
    close(fds[0]);
    close(fds[1]);
  }
  std::string drain(size_t n) {
    std::string s(n, '\0');
    EXPECT_EQ(read(fds[0], s.data(), n), static_cast<ssize_t>(n));
    return s;
  }
};

uint8_t rd(Serial& s, uint64_t off) {
  uint8_t b = 0;
  s.read(off, {&b, 1});
  return b;
}
void wr(Serial& s, uint64_t off, uint8_t v) { s.write(off, {&v, 1}); }

TEST(Serial, TransmitsBytesAndReportsTransmitterEmpty) {
  Pipe p;
  auto irq = std::make_shared<CountingLine>();
  Serial s(irq, p.fds[1]);
  for (char c : std::string("hi\n")) wr(s, 0, static_cast<uint8_t>(c));
  EXPECT_EQ(p.drain(3), "hi\n");
  EXPECT_EQ(rd(s, 5) & 0x60, 0x60);  // THRE and TEMT
  EXPECT_EQ(s.bytes_written(), 3u);
  EXPECT_EQ(irq->count, 0);  // IER is 0: no interrupts
}

TEST(Serial, ThrEmptyInterruptIsRaisedAndAcknowledgedByReadingIir) {
  Serial s(std::make_shared<CountingLine>(), -1);
  auto irq = std::make_shared<CountingLine>();
  Serial t(irq, -1);
  wr(t, 4, 0x08);  // OUT2
  wr(t, 1, 0x02);  // IER: THR empty
  EXPECT_EQ(irq->count, 1);
  EXPECT_EQ(rd(t, 2) & 0x0f, 0x02);
  EXPECT_EQ(rd(t, 2) & 0x0f, 0x01);  // acknowledged
  wr(t, 0, 'x');
  EXPECT_EQ(irq->count, 2);
}

TEST(Serial, ReceivesInputWithDataReadyAndBoundedFifo) {
  auto irq = std::make_shared<CountingLine>();
  Serial s(irq, -1);
  wr(s, 4, 0x08);
  wr(s, 1, 0x01);  // RX data interrupt
  EXPECT_EQ(s.enqueue_input("ab"), 2u);
  EXPECT_GE(irq->count, 1);
  EXPECT_EQ(rd(s, 5) & 1, 1);
  EXPECT_EQ(rd(s, 2) & 0x0f, 0x04);
  EXPECT_EQ(rd(s, 0), 'a');
  EXPECT_EQ(rd(s, 0), 'b');
  EXPECT_EQ(rd(s, 5) & 1, 0);
  std::string flood(Serial::kRxFifoBytes + 100, 'z');
  EXPECT_EQ(s.enqueue_input(flood), Serial::kRxFifoBytes);
}

TEST(Serial, DivisorLatchAndScratchAndLoopbackBehaveLikeA16550) {
  Serial s(nullptr, -1);
  wr(s, 3, 0x80);  // DLAB
  wr(s, 0, 0x01);
  wr(s, 1, 0x00);
  EXPECT_EQ(rd(s, 0), 0x01);
  wr(s, 3, 0x03);
  wr(s, 7, 0x5a);
  EXPECT_EQ(rd(s, 7), 0x5a);
  wr(s, 4, 0x1a);  // loopback with RTS and OUT2: MSR must read 0x90 (Linux's probe)
  EXPECT_EQ(rd(s, 6) & 0xf0, 0x90);
  wr(s, 0, 'L');  // looped back into RX, not to the output
  EXPECT_EQ(rd(s, 0), 'L');
  EXPECT_EQ(s.bytes_written(), 0u);
}

TEST(Serial, KernelPanicLineIsRemembered) {
  Serial s(nullptr, -1);
  EXPECT_FALSE(s.panic_message());
  for (char c : std::string("[ 1.0] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n"))
    wr(s, 0, static_cast<uint8_t>(c));
  ASSERT_TRUE(s.panic_message());
  EXPECT_EQ(*s.panic_message(), "Kernel panic - not syncing: VFS: Unable to mount root fs");
}

}  // namespace
}  // namespace vessel::vmm
