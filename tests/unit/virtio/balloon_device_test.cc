// virtio-balloon through its MMIO registers, as Linux's driver programs it: the target in config
// space with a config-change interrupt, `actual` written back, inflated pages given back to the
// host, statistics held and returned once per interval, and a hostile driver's requests counted
// and refused without harm.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include "fake_driver.h"
#include "vmm/devices/virtio/balloon/balloon.h"

namespace vessel::vmm::virtio {
namespace {

using namespace testing;
using namespace std::chrono_literals;

// A driver with up to four queues, each ring in its own 64 KiB, descriptors one per chain.
class BalloonDriver : public MmioRegisters {
 public:
  explicit BalloonDriver(const GuestMemory& mem) : mem_(mem) {}
  struct Q {
    GuestAddress desc, avail, used;
    uint16_t avail_idx = 0, used_seen = 0, next_desc = 0;
  };
  uint32_t init(uint64_t wanted, uint16_t queues) {
    w32(reg::kStatus, 0);
    w32(reg::kStatus, status::kAcknowledge | status::kDriver);
    uint64_t f = device_features() & wanted;
    w32(reg::kDriverFeaturesSel, 0);
    w32(reg::kDriverFeatures, uint32_t(f));
    w32(reg::kDriverFeaturesSel, 1);
    w32(reg::kDriverFeatures, uint32_t(f >> 32));
    w32(reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
    qs_.clear();
    for (uint16_t i = 0; i < queues; ++i) {
      GuestAddress base = 0x10000ull * (i + 1);
      qs_.push_back({base, base + 0x2000, base + 0x4000});
      w32(reg::kQueueSel, i);
      w32(reg::kQueueNum, 64);
      w32(reg::kQueueDescLow, uint32_t(base));
      w32(reg::kQueueDriverLow, uint32_t(base + 0x2000));
      w32(reg::kQueueDeviceLow, uint32_t(base + 0x4000));
      w32(reg::kQueueReady, 1);
    }
    w32(reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
    return r32(reg::kStatus);
  }
  // One chain of one device-readable (or writable) buffer on queue `q`.
  void send(uint16_t q, GuestAddress addr, uint32_t len, bool device_writes = false) {
    Q& vq = qs_[q];
    uint16_t head = vq.next_desc++ % 64;
    RawDesc d{addr, len, static_cast<uint16_t>(device_writes ? kDescFlagWrite : 0), 0};
    ASSERT_TRUE(mem_.write_obj(vq.desc + 16ull * head, d));
    ASSERT_TRUE(mem_.write_obj<uint16_t>(vq.avail + 4 + 2 * (vq.avail_idx % 64), head));
    ++vq.avail_idx;
    ASSERT_TRUE(mem_.write_obj<uint16_t>(vq.avail + 2, vq.avail_idx));
    w32(reg::kQueueNotify, q);
  }
  bool wait_used(uint16_t q, uint16_t count, std::chrono::milliseconds timeout = 5s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    Q& vq = qs_[q];
    while (uint16_t(*mem_.read_obj<uint16_t>(vq.used + 2) - vq.used_seen) < count) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(200us);
    }
    vq.used_seen += count;
    return true;
  }
  uint32_t config32(uint64_t off) { return r32(reg::kConfig + off); }
  void set_actual(uint32_t pages) { w32(reg::kConfig + 4, pages); }

 private:
  const GuestMemory& mem_;
  std::vector<Q> qs_;
};

struct Fixture {
  explicit Fixture(BalloonDeviceConfig config) : mem(make_memory()), irq(std::make_shared<CountingIrq>()) {
    auto dev = create_balloon(config, DeviceContext{&mem, irq, kMmioBase, {}});
    if (!dev) {
      ADD_FAILURE() << dev.error().to_string();
      return;
    }
    balloon = *dev;
    drv.attach(balloon.device);
  }
  json::Json metrics() { return balloon.device->metrics(); }
  GuestMemory mem;
  std::shared_ptr<CountingIrq> irq;
  BalloonDevice balloon;
  BalloonDriver drv{mem};
};

TEST(BalloonDeviceTest, FeaturesAndQueuesFollowTheConfiguration) {
  Fixture plain({0, false, 0, false});
  EXPECT_EQ(plain.drv.r32(reg::kDeviceId), 5u);
  uint64_t f = plain.drv.device_features();
  EXPECT_TRUE(f & kFeatureVersion1);
  EXPECT_FALSE(f & (balloon::kFeatureStatsVq | balloon::kFeatureDeflateOnOom | balloon::kFeatureReporting));
  plain.drv.w32(reg::kQueueSel, 2);
  EXPECT_EQ(plain.drv.r32(reg::kQueueNumMax), 0u);  // inflate and deflate only
  Fixture all({0, true, 1, true});
  f = all.drv.device_features();
  EXPECT_TRUE(f & balloon::kFeatureStatsVq);
  EXPECT_TRUE(f & balloon::kFeatureDeflateOnOom);
  EXPECT_TRUE(f & balloon::kFeatureReporting);
  EXPECT_FALSE(f & balloon::kFeatureMustTellHost);
  all.drv.w32(reg::kQueueSel, 3);
  EXPECT_EQ(all.drv.r32(reg::kQueueNumMax), 256u);
}

TEST(BalloonDeviceTest, TargetReachesTheDriverAndActualComesBack) {
  Fixture fx({1024, false, 0, false});
  ASSERT_TRUE(fx.drv.init(~0ull, 2) & status::kDriverOk);
  EXPECT_EQ(fx.drv.config32(0), 1024u);  // num_pages
  EXPECT_EQ(fx.drv.config32(4), 0u);     // actual
  uint32_t gen = fx.drv.r32(reg::kConfigGeneration);
  int irqs = fx.irq->count.load();
  fx.balloon.control->set_target_pages(4096);
  EXPECT_EQ(fx.drv.config32(0), 4096u);
  EXPECT_NE(fx.drv.r32(reg::kConfigGeneration), gen);
  EXPECT_TRUE(fx.drv.r32(reg::kInterruptStatus) & kInterruptConfigChange);
  EXPECT_GT(fx.irq->count.load(), irqs);
  fx.drv.set_actual(4096);
  EXPECT_EQ(fx.balloon.control->actual_pages(), 4096u);
  EXPECT_EQ(fx.drv.config32(4), 4096u);
  // num_pages is the host's: a driver's write to it changes nothing (and is counted).
  fx.drv.w32(reg::kConfig, 7);
  EXPECT_EQ(fx.drv.config32(0), 4096u);
  EXPECT_EQ(fx.metrics()["bad_config_writes"], 1);
  auto s = fx.balloon.control->statistics();
  EXPECT_EQ(s["target_mib"], 16);
  EXPECT_EQ(s["actual_pages"], 4096);
}

TEST(BalloonDeviceTest, InflatedPagesGoBackToTheHostDeflatedOnesAreCounted) {
  Fixture fx({16, false, 0, false});
  ASSERT_TRUE(fx.drv.init(~0ull, 2) & status::kDriverOk);
  std::vector<uint8_t> pattern(16 * 4096, 0x5a);
  ASSERT_TRUE(fx.mem.write(0x400000, pattern.data(), pattern.size()));
  std::vector<uint32_t> pfns;
  for (uint32_t i = 0; i < 16; ++i) pfns.push_back(0x400 + i);
  ASSERT_TRUE(fx.mem.write(kData, pfns.data(), pfns.size() * 4));
  fx.drv.send(0, kData, 64);
  ASSERT_TRUE(fx.drv.wait_used(0, 1));
  std::vector<unsigned char> resident(17);
  ASSERT_EQ(::mincore(fx.mem.host_base() + 0x400000, 17 * 4096, resident.data()), 0);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(resident[i] & 1, 0) << i;
  EXPECT_EQ(*fx.mem.read_obj<uint32_t>(0x400000), 0u);
  auto m = fx.metrics();
  EXPECT_EQ(m["inflated_pages"], 16);
  EXPECT_EQ(m["discarded_bytes"], 16 * 4096);
  fx.drv.send(1, kData, 64);  // deflate the same pages
  ASSERT_TRUE(fx.drv.wait_used(1, 1));
  EXPECT_EQ(fx.metrics()["deflated_pages"], 16);
}

TEST(BalloonDeviceTest, HostileRequestsAreCountedAndChangeNothing) {
  Fixture fx({0, false, 0, false});
  ASSERT_TRUE(fx.drv.init(~0ull, 2) & status::kDriverOk);
  ASSERT_TRUE(fx.mem.write_obj<uint64_t>(0x500000, 0x1122334455667788));
  std::vector<uint32_t> pfns = {0x500, 0xfffff000};  // one good page, one far outside RAM
  ASSERT_TRUE(fx.mem.write(kData, pfns.data(), 8));
  fx.drv.send(0, kData, 8);
  fx.drv.send(0, kData, 6);  // not whole PFNs
  fx.drv.send(0, kData, 64 * 1024);  // more than a request may name
  ASSERT_TRUE(fx.drv.wait_used(0, 3));
  EXPECT_EQ(*fx.mem.read_obj<uint64_t>(0x500000), 0x1122334455667788u);  // the good page too
  auto m = fx.metrics();
  EXPECT_EQ(m["guest_errors"]["bad_request"], 3) << m.dump();
  EXPECT_EQ(m["inflated_pages"], 0);
  EXPECT_EQ(m["needs_reset"], 0);
  EXPECT_FALSE(fx.drv.r32(reg::kStatus) & status::kNeedsReset);
}

TEST(BalloonDeviceTest, StatisticsAreHeldAndAskedForAgainEachInterval) {
  Fixture fx({0, false, 1, false});
  ASSERT_TRUE(fx.drv.init(~0ull, 3) & status::kDriverOk);
  auto put_stats = [&](uint64_t free) {
    uint8_t e[20];
    uint16_t t0 = 4, t1 = 5;
    uint64_t total = 16 << 20;
    std::memcpy(e, &t0, 2);
    std::memcpy(e + 2, &free, 8);
    std::memcpy(e + 10, &t1, 2);
    std::memcpy(e + 12, &total, 8);
    ASSERT_TRUE(fx.mem.write(kData, e, 20));
  };
  put_stats(1000);
  fx.drv.send(2, kData, 20);
  // Held: not used before the interval has passed.
  EXPECT_FALSE(fx.drv.wait_used(2, 1, 300ms));
  auto s = fx.balloon.control->statistics();
  EXPECT_EQ(s["free_memory"], 1000);
  EXPECT_EQ(s["total_memory"], 16 << 20);
  EXPECT_FALSE(s.contains("swap_in"));
  ASSERT_TRUE(fx.drv.wait_used(2, 1, 3s));  // the device asks for fresh figures
  put_stats(2000);
  fx.drv.send(2, kData, 20);
  auto end = std::chrono::steady_clock::now() + 2s;
  while (fx.balloon.control->statistics()["free_memory"] != 2000 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(fx.balloon.control->statistics()["free_memory"], 2000);
  EXPECT_GE(fx.metrics()["stats_updates"], 2);
}

TEST(BalloonDeviceTest, StatisticsIntervalFollowsFirecrackersRules) {
  Fixture off({0, false, 0, false});
  EXPECT_FALSE(off.balloon.control->set_stats_interval(1));
  Fixture on({0, false, 5, false});
  EXPECT_FALSE(on.balloon.control->set_stats_interval(0));
  EXPECT_TRUE(on.balloon.control->set_stats_interval(2));
  EXPECT_EQ(on.balloon.control->stats_interval_s(), 2u);
}

TEST(BalloonDeviceTest, ReportedFreePagesAreGivenBack) {
  Fixture fx({0, false, 0, true});
  ASSERT_TRUE(fx.drv.init(~0ull & ~balloon::kFeatureStatsVq, 3) & status::kDriverOk);  // reporting is queue 2
  std::vector<uint8_t> pattern(2 << 20, 0x77);
  ASSERT_TRUE(fx.mem.write(0x600000, pattern.data(), pattern.size()));
  fx.drv.send(2, 0x600000, 2 << 20, true);
  ASSERT_TRUE(fx.drv.wait_used(2, 1));
  EXPECT_EQ(*fx.mem.read_obj<uint64_t>(0x600000 + (1 << 20)), 0u);
  EXPECT_EQ(fx.metrics()["reported_pages"], 512);
}

TEST(BalloonDeviceTest, SnapshotKeepsTargetActualAndTheHeldStatisticsBuffer) {
  Fixture a({256, false, 1, false});
  ASSERT_TRUE(a.drv.init(~0ull, 3) & status::kDriverOk);
  a.drv.set_actual(200);
  a.balloon.control->set_target_pages(300);
  ASSERT_TRUE(a.balloon.control->set_stats_interval(2));
  uint8_t e[10] = {5, 0};  // total_memory
  ASSERT_TRUE(a.mem.write(kData, e, 10));
  a.drv.send(2, kData, 10);
  auto end = std::chrono::steady_clock::now() + 2s;
  while (a.metrics()["stats_updates"] != 1 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(a.balloon.device->pause());
  auto extra = a.balloon.device->save_extra();
  ASSERT_TRUE(extra) << extra.error().to_string();
  auto* saved = std::get_if<snapshot::BalloonState>(&*extra);
  ASSERT_NE(saved, nullptr);
  EXPECT_EQ(saved->mmio_base, kMmioBase);
  EXPECT_EQ(saved->target_pages, 300u);
  EXPECT_EQ(saved->actual_pages, 200u);
  EXPECT_EQ(saved->stats_interval_s, 2u);
  ASSERT_TRUE(saved->stats_head);
  auto state = a.balloon.device->save_state();
  ASSERT_TRUE(state);

  // A fresh device on the same memory (as a load builds it from the configuration).
  auto irq = std::make_shared<CountingIrq>();
  auto b = create_balloon({256, false, 1, false}, DeviceContext{&a.mem, irq, kMmioBase, {}});
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->device->restore_extra(*extra));
  ASSERT_TRUE(b->device->restore_state(*state));
  EXPECT_EQ(b->control->target_pages(), 300u);
  EXPECT_EQ(b->control->actual_pages(), 200u);
  EXPECT_EQ(b->control->stats_interval_s(), 2u);
  // The held buffer goes back to the driver one interval after the load.
  uint16_t used_before = *a.mem.read_obj<uint16_t>(0x30000 + 0x4000 + 2);
  end = std::chrono::steady_clock::now() + 5s;
  while (*a.mem.read_obj<uint16_t>(0x30000 + 0x4000 + 2) == used_before && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(uint16_t(*a.mem.read_obj<uint16_t>(0x30000 + 0x4000 + 2) - used_before), 1);

  // A state that does not fit the configuration is refused.
  auto c = create_balloon({0, false, 0, false}, DeviceContext{&a.mem, irq, kMmioBase, {}});
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->device->restore_extra(*extra));  // statistics were on
  snapshot::BalloonState huge = *saved;
  huge.stats_interval_s = 0;
  huge.stats_head.reset();
  huge.actual_pages = 1u << 30;
  EXPECT_FALSE(c->device->restore_extra(huge));
  EXPECT_FALSE(c->device->restore_extra(snapshot::VsockState{kMmioBase, 3, "/x"}));
  EXPECT_TRUE(c->device->restore_extra(snapshot::DeviceExtra{}));  // an older snapshot: none
}

}  // namespace
}  // namespace vessel::vmm::virtio
