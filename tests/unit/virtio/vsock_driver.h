// A fake virtio-vsock guest driver for unit tests: three queues (rx, tx, event) on a real
// GuestMemory, programmed through the MMIO registers as Linux's virtio_vsock does: rx buffers of
// 4 KiB posted up front and re-posted when used, one tx chain per packet (the header in its own
// descriptor when `split` is asked).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fake_driver.h"
#include "vmm/devices/virtio/vsock/vsock_packet.h"

namespace vessel::vmm::virtio::testing {

inline constexpr uint16_t kVsockQueueSize = 64;
inline constexpr uint32_t kRxBufSize = 4096;
inline constexpr GuestAddress kRxBufs = 0x100000, kTxBufs = 0x200000, kTxBufStride = 0x11000;

struct VsockQueue {
  GuestAddress desc, avail, used;
  uint16_t avail_idx = 0, used_seen = 0;
};

struct RxPacket {
  vsock::Header header;
  std::string payload;
};

class VsockDriver : public MmioRegisters {
 public:
  explicit VsockDriver(const GuestMemory& mem) : mem_(mem) {
    for (uint16_t q = 0; q < 3; ++q) {
      GuestAddress base = 0x10000ull * (q + 1);
      queues_[q] = {base, base + 0x2000, base + 0x4000};
    }
  }

  uint32_t init() {
    w32(reg::kStatus, 0);
    w32(reg::kStatus, status::kAcknowledge);
    w32(reg::kStatus, status::kAcknowledge | status::kDriver);
    w32(reg::kDriverFeaturesSel, 0);
    w32(reg::kDriverFeatures, 0);
    w32(reg::kDriverFeaturesSel, 1);
    w32(reg::kDriverFeatures, 1);  // VERSION_1
    w32(reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
    for (uint16_t q = 0; q < 3; ++q) {
      auto& vq = queues_[q];
      (void)mem_.write(vq.avail, std::vector<uint8_t>(0x2000, 0).data(), 0x2000);
      (void)mem_.write(vq.used, std::vector<uint8_t>(0x2000, 0).data(), 0x2000);
      vq.avail_idx = vq.used_seen = 0;
      w32(reg::kQueueSel, q);
      w32(reg::kQueueNum, kVsockQueueSize);
      w32(reg::kQueueDescLow, uint32_t(vq.desc));
      w32(reg::kQueueDescHigh, 0);
      w32(reg::kQueueDriverLow, uint32_t(vq.avail));
      w32(reg::kQueueDriverHigh, 0);
      w32(reg::kQueueDeviceLow, uint32_t(vq.used));
      w32(reg::kQueueDeviceHigh, 0);
      w32(reg::kQueueReady, 1);
    }
    w32(reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
    return r32(reg::kStatus);
  }

  void set_desc(uint16_t q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    RawDesc d{addr, len, flags, next};
    ASSERT_TRUE(mem_.write_obj(queues_[q].desc + 16ull * i, d));
  }
  void submit(uint16_t q, uint16_t head) {
    auto& vq = queues_[q];
    ASSERT_TRUE(mem_.write_obj<uint16_t>(vq.avail + 4 + 2 * (vq.avail_idx % kVsockQueueSize), head));
    ++vq.avail_idx;
    std::atomic_thread_fence(std::memory_order_release);
    ASSERT_TRUE(mem_.write_obj<uint16_t>(vq.avail + 2, vq.avail_idx));
    w32(reg::kQueueNotify, q);
  }
  uint16_t used_idx(uint16_t q) { return *mem_.read_obj<uint16_t>(queues_[q].used + 2); }
  // Next used element of queue q (head, len), waiting up to timeout_ms.
  std::optional<std::pair<uint32_t, uint32_t>> next_used(uint16_t q, int timeout_ms = 3000) {
    auto& vq = queues_[q];
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (used_idx(q) == vq.used_seen) {
      if (std::chrono::steady_clock::now() > end) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    GuestAddress e = vq.used + 4 + 8 * (vq.used_seen % kVsockQueueSize);
    ++vq.used_seen;
    return std::pair{*mem_.read_obj<uint32_t>(e), *mem_.read_obj<uint32_t>(e + 4)};
  }

  // rx: `n` buffers of 4 KiB (descriptors 0..n-1), re-posted as they are used.
  void post_rx(uint16_t n) {
    for (uint16_t i = 0; i < n; ++i) {
      set_desc(0, i, kRxBufs + uint64_t(i) * kRxBufSize, kRxBufSize, kDescFlagWrite);
      submit(0, i);
    }
  }
  std::optional<RxPacket> recv(int timeout_ms = 3000) {
    auto used = next_used(0, timeout_ms);
    if (!used) return std::nullopt;
    auto [head, len] = *used;
    std::vector<uint8_t> buf(len);
    GuestAddress at = kRxBufs + uint64_t(head) * kRxBufSize;
    EXPECT_TRUE(mem_.read(at, buf.data(), len));
    EXPECT_GE(len, vsock::kHeaderSize);
    RxPacket p;
    if (len < vsock::kHeaderSize) return p;
    p.header = vsock::decode(std::span<const uint8_t, vsock::kHeaderSize>(buf.data(), vsock::kHeaderSize));
    p.payload.assign(buf.begin() + vsock::kHeaderSize, buf.end());
    EXPECT_EQ(p.header.len, p.payload.size());
    submit(0, uint16_t(head));  // back to the device
    return p;
  }
  // Receives until a packet other than CREDIT_REQUEST/UPDATE arrives (those update `peer`).
  std::optional<RxPacket> recv_skipping_credit(int timeout_ms = 3000) {
    for (;;) {
      auto p = recv(timeout_ms);
      if (!p) return p;
      peer_fwd_cnt = p->header.fwd_cnt;
      peer_buf_alloc = p->header.buf_alloc;
      if (p->header.op == uint16_t(vsock::Op::CreditRequest) || p->header.op == uint16_t(vsock::Op::CreditUpdate))
        continue;
      return p;
    }
  }

  // tx: one chain per packet from raw bytes; `split` puts the first 44 bytes in their own descriptor.
  void send_raw(const std::vector<uint8_t>& bytes, bool split = false) {
    uint16_t slot = tx_next_++ % 32;
    uint16_t d = uint16_t(slot * 2);
    GuestAddress buf = kTxBufs + uint64_t(slot) * kTxBufStride;
    ASSERT_TRUE(mem_.write(buf, bytes.data(), bytes.size()));
    if (split && bytes.size() > vsock::kHeaderSize) {
      set_desc(1, d, buf, vsock::kHeaderSize, kDescFlagNext, uint16_t(d + 1));
      set_desc(1, uint16_t(d + 1), buf + vsock::kHeaderSize, uint32_t(bytes.size() - vsock::kHeaderSize), 0);
    } else {
      set_desc(1, d, buf, uint32_t(bytes.size()), 0);
    }
    submit(1, d);
    ASSERT_TRUE(next_used(1).has_value());  // the device consumed it
  }
  void send(vsock::Header h, const std::string& payload = {}, bool split = false) {
    h.len = uint32_t(payload.size());
    auto hb = vsock::encode(h);
    std::vector<uint8_t> bytes(hb.begin(), hb.end());
    bytes.insert(bytes.end(), payload.begin(), payload.end());
    send_raw(bytes, split);
  }

  uint32_t peer_fwd_cnt = 0, peer_buf_alloc = 0;

 private:
  const GuestMemory& mem_;
  VsockQueue queues_[3];
  uint16_t tx_next_ = 0;
};

}  // namespace vessel::vmm::virtio::testing
