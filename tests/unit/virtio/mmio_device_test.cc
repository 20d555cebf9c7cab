// The virtio-mmio transport under a hostile driver: broken rings put the device in NEEDS_RESET
// with a config-change interrupt, a reset brings it back, feature negotiation refuses drivers
// without VERSION_1, and pause() really stops queue processing until resume().
#include <gtest/gtest.h>

#include <thread>

#include "fake_driver.h"

namespace vessel::vmm::virtio {
namespace {

using namespace testing;

class MmioDeviceTest : public ::testing::Test {
 protected:
  GuestMemory mem = make_memory();
  std::shared_ptr<CountingIrq> irq = std::make_shared<CountingIrq>();
  FakeDriver drv{mem};

  void SetUp() override {
    auto dev = create_rng(DeviceContext{&mem, irq, kMmioBase + 0x1000, {}});
    ASSERT_TRUE(dev) << dev.error().to_string();
    drv.attach(*dev);
  }
  void expect_needs_reset(const char* kind) {
    ASSERT_TRUE(drv.wait_status(status::kNeedsReset)) << kind;
    EXPECT_TRUE(drv.r32(reg::kInterruptStatus) & kInterruptConfigChange);
    auto m = drv.dev().metrics();
    EXPECT_EQ(m["needs_reset"], 1) << m.dump();
    EXPECT_GE(m["guest_errors"][kind].get<uint64_t>(), 1u) << m.dump();
    EXPECT_TRUE(irq->wait_at_least(1));
  }
  void expect_recovers_after_reset() {
    drv.w32(reg::kStatus, 0);
    EXPECT_EQ(drv.r32(reg::kStatus), 0u);
    EXPECT_EQ(drv.r32(reg::kInterruptStatus), 0u);
    ASSERT_TRUE(mem.write_obj<uint16_t>(kAvail + 2, 0));
    ASSERT_TRUE(mem.write_obj<uint16_t>(kUsed + 2, 0));
    ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
    drv.set_desc(0, kData, 64, kDescFlagWrite);
    drv.submit(0);
    ASSERT_TRUE(drv.wait_used(1));
    EXPECT_EQ(drv.used(0).second, 64u);
  }
};

TEST_F(MmioDeviceTest, RefusesDriverWithoutVersion1) {
  uint32_t st = drv.init(~kFeatureVersion1);
  EXPECT_FALSE(st & status::kFeaturesOk);
  EXPECT_EQ(drv.dev().metrics()["feature_negotiation_failures"], 1);
  // DRIVER_OK without FEATURES_OK is refused too.
  drv.w32(reg::kStatus, status::kAcknowledge | status::kDriver | status::kDriverOk);
  EXPECT_FALSE(drv.r32(reg::kStatus) & status::kDriverOk);
}

TEST_F(MmioDeviceTest, RefusesFeaturesNotOffered) {
  drv.w32(reg::kStatus, status::kAcknowledge | status::kDriver);
  drv.w32(reg::kDriverFeaturesSel, 1);
  drv.w32(reg::kDriverFeatures, 1 | (1 << 10));  // VERSION_1 plus something never offered
  drv.w32(reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
  EXPECT_FALSE(drv.r32(reg::kStatus) & status::kFeaturesOk);
}

TEST_F(MmioDeviceTest, BadQueueSizeNeedsReset) {
  drv.init(~0ull, /*size=*/100);
  expect_needs_reset("queue_size");
  expect_recovers_after_reset();
}

TEST_F(MmioDeviceTest, RingOutsideRamNeedsReset) {
  drv.init(~0ull, 256, QueueLayout{0, kDesc, kAvail, kMmioHoleStart});
  expect_needs_reset("ring_address");
  expect_recovers_after_reset();
}

TEST_F(MmioDeviceTest, DescriptorLoopNeedsReset) {
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  drv.set_desc(0, kData, 16, kDescFlagWrite | kDescFlagNext, 1);
  drv.set_desc(1, kData, 16, kDescFlagWrite | kDescFlagNext, 0);
  drv.submit(0);
  expect_needs_reset("descriptor_loop");
  expect_recovers_after_reset();
}

TEST_F(MmioDeviceTest, AvailIndexJumpNeedsReset) {
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  drv.set_avail_idx(1000);
  drv.w32(reg::kQueueNotify, 0);
  expect_needs_reset("avail_index");
  expect_recovers_after_reset();
}

TEST_F(MmioDeviceTest, HeadIndexOutOfRangeNeedsReset) {
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  drv.submit(4000);
  expect_needs_reset("head_index");
}

TEST_F(MmioDeviceTest, QueueRegistersFrozenWhileReady) {
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  drv.w32(reg::kQueueDescLow, 0xdead0000);  // ignored: queue is live
  drv.set_desc(0, kData, 32, kDescFlagWrite);
  drv.submit(0);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(drv.used(0).second, 32u);
  EXPECT_GE(drv.dev().metrics()["bad_register_accesses"].get<uint64_t>(), 1u);
}

TEST_F(MmioDeviceTest, OddRegisterAccessesAreHarmless) {
  uint8_t b[2] = {0xff, 0xff};
  drv.dev().write(reg::kStatus, {b, 2});   // 16-bit write to a 32-bit register
  drv.dev().read(0x7fc, {b, 1});           // past the config space
  drv.dev().write(0xffc, {b, 2});
  EXPECT_EQ(drv.r32(reg::kStatus), 0u);
  EXPECT_EQ(drv.r32(0x0c8), 0u);  // unknown register reads as zero
  EXPECT_GE(drv.dev().metrics()["bad_register_accesses"].get<uint64_t>(), 2u);
}

TEST_F(MmioDeviceTest, PauseStopsProcessingUntilResume) {
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  ASSERT_TRUE(drv.dev().pause());
  ASSERT_TRUE(drv.dev().pause());  // idempotent
  drv.set_desc(0, kData, 32, kDescFlagWrite);
  drv.submit(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(drv.used_idx(), 0) << "device served a request while paused";
  ASSERT_TRUE(drv.dev().resume());
  ASSERT_TRUE(drv.wait_used(1));
}

TEST_F(MmioDeviceTest, NoInterruptWhenDriverSuppressesIt) {
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  ASSERT_TRUE(mem.write_obj<uint16_t>(kAvail, kAvailFlagNoInterrupt));
  int before = irq->count.load();
  drv.set_desc(0, kData, 32, kDescFlagWrite);
  drv.submit(0);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(irq->count.load(), before);
}

TEST_F(MmioDeviceTest, DestroyWhilePausedDoesNotHang) {
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  ASSERT_TRUE(drv.dev().pause());
  drv.attach(nullptr);  // last reference: the destructor stops the paused thread
  SUCCEED();
}

// Snapshots (docs/vmm/snapshot.md): a paused transport's state, restored into a new device on the
// same guest memory, goes on where the old one stopped; a hostile saved state is refused.
TEST_F(MmioDeviceTest, SavedStateRestoresIntoANewDeviceThatGoesOn) {
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  drv.set_desc(0, kData, 32, kDescFlagWrite);
  drv.submit(0);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_FALSE(drv.dev().save_state()) << "saved while running";
  ASSERT_TRUE(drv.dev().pause());
  auto st = drv.dev().save_state();
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->device_type, 4u);
  ASSERT_EQ(st->queues.size(), 1u);
  EXPECT_TRUE(st->queues[0].ready);
  EXPECT_EQ(st->queues[0].next_avail, 1);
  EXPECT_EQ(st->queues[0].next_used, 1);
  EXPECT_TRUE(st->status & status::kDriverOk);
  drv.set_desc(1, kData + 64, 48, kDescFlagWrite);
  drv.submit(1);  // left in the ring by the paused device: the restored one serves it

  auto fresh = create_rng(DeviceContext{&mem, irq, kMmioBase + 0x1000, {}});
  ASSERT_TRUE(fresh);
  ASSERT_TRUE((*fresh)->restore_state(*st));
  drv.attach(*fresh);
  EXPECT_EQ(drv.r32(reg::kStatus), st->status);
  ASSERT_TRUE(drv.wait_used(1));  // the second request
  EXPECT_EQ(drv.used_idx(), 2);
  EXPECT_EQ(drv.used(1).second, 48u);
}

TEST_F(MmioDeviceTest, HostileSavedStateIsRefused) {
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  ASSERT_TRUE(drv.dev().pause());
  auto st = drv.dev().save_state();
  ASSERT_TRUE(st);
  auto fresh = create_rng(DeviceContext{&mem, irq, kMmioBase + 0x1000, {}});
  ASSERT_TRUE(fresh);
  auto bad = *st;
  bad.queues[0].used = kMmioHoleStart;  // a used ring outside guest RAM
  auto r = (*fresh)->restore_state(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("queue 0"), std::string::npos) << r.error().to_string();
  bad = *st;
  bad.device_type = 2;
  EXPECT_FALSE((*fresh)->restore_state(bad));
  bad = *st;
  bad.queues.push_back({});
  EXPECT_FALSE((*fresh)->restore_state(bad));
  bad = *st;
  bad.driver_features |= 1ull << 50;  // never offered
  EXPECT_FALSE((*fresh)->restore_state(bad));
  bad = *st;
  bad.queues[0].size = 100;  // not a power of two
  EXPECT_FALSE((*fresh)->restore_state(bad));
}

}  // namespace
}  // namespace vessel::vmm::virtio
