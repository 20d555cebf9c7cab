// A fake virtio driver for unit tests: guest RAM is a real GuestMemory, the rings live in it, and
// the device is programmed through its MMIO registers exactly as a guest would.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "vmm/devices/virtio/mmio/mmio_transport.h"
#include "vmm/devices/virtio/queue/virtqueue.h"
#include "vmm/devices/virtio/virtio_devices.h"

namespace vessel::vmm::virtio::testing {

struct CountingIrq : InterruptLine {
  std::atomic<int> count{0};
  Result<void> trigger() override {
    count++;
    return {};
  }
  // The device thread publishes the used ring before it raises the interrupt: a driver that
  // saw the used index must still wait a moment for the interrupt.
  bool wait_at_least(int n, int timeout_ms = 5000) const {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (count.load() < n) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }
};

inline constexpr uint64_t kRamSize = 16 << 20;
inline constexpr GuestAddress kDesc = 0x1000, kAvail = 0x40000, kUsed = 0x50000;
inline constexpr GuestAddress kData = 0x100000;  // buffers from 1 MiB up

struct RawDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

// A device's MMIO registers as a guest driver reaches them; the fake drivers (one queue here,
// net's two, vsock's three) build on it.
class MmioRegisters {
 public:
  void attach(std::shared_ptr<VirtioMmioDevice> dev) { dev_ = std::move(dev); }
  VirtioMmioDevice& dev() { return *dev_; }

  uint32_t r32(uint64_t off) {
    uint32_t v = 0;
    dev_->read(off, {reinterpret_cast<uint8_t*>(&v), 4});
    return v;
  }
  void w32(uint64_t off, uint32_t v) { dev_->write(off, {reinterpret_cast<uint8_t*>(&v), 4}); }

  uint64_t device_features() {
    w32(reg::kDeviceFeaturesSel, 0);
    uint64_t lo = r32(reg::kDeviceFeatures);
    w32(reg::kDeviceFeaturesSel, 1);
    return lo | (uint64_t(r32(reg::kDeviceFeatures)) << 32);
  }

 protected:
  std::shared_ptr<VirtioMmioDevice> dev_;
};

class FakeDriver : public MmioRegisters {
 public:
  explicit FakeDriver(const GuestMemory& mem) : mem_(mem) {}

  // The driver initialisation sequence of spec 3.1.1; returns the final status register.
  uint32_t init(uint64_t wanted, uint16_t size = 256, QueueLayout layout = {0, kDesc, kAvail, kUsed}) {
    size_ = size;
    w32(reg::kStatus, 0);
    w32(reg::kStatus, status::kAcknowledge);
    w32(reg::kStatus, status::kAcknowledge | status::kDriver);
    uint64_t f = device_features() & wanted;
    w32(reg::kDriverFeaturesSel, 0);
    w32(reg::kDriverFeatures, uint32_t(f));
    w32(reg::kDriverFeaturesSel, 1);
    w32(reg::kDriverFeatures, uint32_t(f >> 32));
    w32(reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
    if (!(r32(reg::kStatus) & status::kFeaturesOk)) return r32(reg::kStatus);
    w32(reg::kQueueSel, 0);
    w32(reg::kQueueNum, size);
    w32(reg::kQueueDescLow, uint32_t(layout.desc));
    w32(reg::kQueueDescHigh, uint32_t(layout.desc >> 32));
    w32(reg::kQueueDriverLow, uint32_t(layout.avail));
    w32(reg::kQueueDriverHigh, uint32_t(layout.avail >> 32));
    w32(reg::kQueueDeviceLow, uint32_t(layout.used));
    w32(reg::kQueueDeviceHigh, uint32_t(layout.used >> 32));
    w32(reg::kQueueReady, 1);
    avail_idx_ = 0;
    used_seen_ = 0;
    w32(reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk |
                          status::kDriverOk);
    return r32(reg::kStatus);
  }

  void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0,
                GuestAddress table = kDesc) {
    RawDesc d{addr, len, flags, next};
    ASSERT_TRUE(mem_.write_obj(table + 16ull * i, d));
  }

  // Puts `head` on the available ring and rings the doorbell.
  void submit(uint16_t head, bool notify = true) {
    ASSERT_TRUE(mem_.write_obj<uint16_t>(kAvail + 4 + 2 * (avail_idx_ % size_), head));
    ++avail_idx_;
    std::atomic_thread_fence(std::memory_order_release);
    ASSERT_TRUE(mem_.write_obj<uint16_t>(kAvail + 2, avail_idx_));
    if (notify) w32(reg::kQueueNotify, 0);
  }
  void set_avail_idx(uint16_t idx) { ASSERT_TRUE(mem_.write_obj<uint16_t>(kAvail + 2, idx)); }

  uint16_t used_idx() { return *mem_.read_obj<uint16_t>(kUsed + 2); }
  // Waits until the device has published `count` more used entries than seen so far.
  bool wait_used(uint16_t count, int timeout_ms = 5000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (uint16_t(used_idx() - used_seen_) < count) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    used_seen_ += count;
    return true;
  }
  bool wait_status(uint32_t bit, int timeout_ms = 5000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!(r32(reg::kStatus) & bit)) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }
  std::pair<uint32_t, uint32_t> used(uint16_t i) {
    uint32_t id = *mem_.read_obj<uint32_t>(kUsed + 4 + 8 * (i % size_));
    uint32_t len = *mem_.read_obj<uint32_t>(kUsed + 8 + 8 * (i % size_));
    return {id, len};
  }

 private:
  const GuestMemory& mem_;
  uint16_t size_ = 256;
  uint16_t avail_idx_ = 0;
  uint16_t used_seen_ = 0;
};

inline GuestMemory make_memory() {
  auto m = GuestMemory::create(kRamSize);
  if (!m) std::abort();
  return std::move(*m);
}

}  // namespace vessel::vmm::virtio::testing
