// virtio-net end to end through its registers, with a SOCK_SEQPACKET socketpair standing in for
// the tap (one frame per read/write, like a tap): tx byte-exact, rx with and without mergeable
// buffers, malformed chains counted, floods bounded, the rate limiters holding frames.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "fake_driver.h"
#include "vmm/devices/virtio/net/tap.h"
#include "vmm/devices/virtio/net/virtio_net.h"

namespace vessel::vmm::virtio::net {
namespace {

using namespace virtio::testing;

constexpr uint16_t kQs = 64;
struct Rings {
  GuestAddress desc, avail, used;
};
constexpr Rings kRings[2] = {{0x1000, 0x40000, 0x50000}, {0x10000, 0x42000, 0x52000}};
constexpr GuestAddress kRxBuf = 0x200000, kTxBuf = 0x400000;

// Two queues (rx 0, tx 1) programmed through the registers, as a guest driver would.
class NetDriver : public MmioRegisters {
 public:
  explicit NetDriver(const GuestMemory& mem) : mem_(mem) {}
  uint32_t init(uint64_t wanted) {
    w32(reg::kStatus, 0);
    w32(reg::kStatus, status::kAcknowledge | status::kDriver);
    uint64_t f = device_features() & wanted;
    w32(reg::kDriverFeaturesSel, 0);
    w32(reg::kDriverFeatures, uint32_t(f));
    w32(reg::kDriverFeaturesSel, 1);
    w32(reg::kDriverFeatures, uint32_t(f >> 32));
    w32(reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
    for (uint32_t q = 0; q < 2; ++q) {
      w32(reg::kQueueSel, q);
      w32(reg::kQueueNum, kQs);
      w32(reg::kQueueDescLow, uint32_t(kRings[q].desc));
      w32(reg::kQueueDriverLow, uint32_t(kRings[q].avail));
      w32(reg::kQueueDeviceLow, uint32_t(kRings[q].used));
      w32(reg::kQueueReady, 1);
      avail_[q] = used_seen_[q] = 0;
    }
    w32(reg::kStatus,
        status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
    return r32(reg::kStatus);
  }
  void set_desc(uint16_t q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                uint16_t next = 0) {
    RawDesc d{addr, len, flags, next};
    ASSERT_TRUE(mem_.write_obj(kRings[q].desc + 16ull * i, d));
  }
  void submit(uint16_t q, uint16_t head, bool notify = true) {
    ASSERT_TRUE(mem_.write_obj<uint16_t>(kRings[q].avail + 4 + 2 * (avail_[q] % kQs), head));
    ++avail_[q];
    std::atomic_thread_fence(std::memory_order_release);
    ASSERT_TRUE(mem_.write_obj<uint16_t>(kRings[q].avail + 2, avail_[q]));
    if (notify) w32(reg::kQueueNotify, q);
  }
  uint16_t used_idx(uint16_t q) { return *mem_.read_obj<uint16_t>(kRings[q].used + 2); }
  bool wait_used(uint16_t q, uint16_t count, int timeout_ms = 5000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (uint16_t(used_idx(q) - used_seen_[q]) < count) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    used_seen_[q] += count;
    return true;
  }
  std::pair<uint32_t, uint32_t> used(uint16_t q, uint16_t i) {
    return {*mem_.read_obj<uint32_t>(kRings[q].used + 4 + 8 * (i % kQs)),
            *mem_.read_obj<uint32_t>(kRings[q].used + 8 + 8 * (i % kQs))};
  }

 private:
  const GuestMemory& mem_;
  uint16_t avail_[2] = {0, 0};
  uint16_t used_seen_[2] = {0, 0};
};

std::vector<uint8_t> test_frame(size_t len, uint8_t seed) {
  std::vector<uint8_t> f(len);
  for (size_t i = 0; i < len; ++i) f[i] = uint8_t(seed + i * 7);
  return f;
}

class NetDeviceTest : public ::testing::Test {
 protected:
  GuestMemory mem = make_memory();
  std::shared_ptr<CountingIrq> irq = std::make_shared<CountingIrq>();
  NetDriver drv{mem};
  std::shared_ptr<VirtioMmioDevice> dev;
  int peer = -1;  // the host's end of the "tap"

  void start(NetConfig config = {}, uint64_t features = ~0ull) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    peer = sv[1];
    if (config.iface_id.empty()) config.iface_id = "eth0";
    config.host_dev_name = "fake0";
    auto d = create_net_with_tap(config, Tap::adopt(Fd(sv[0]), "fake0"),
                                 DeviceContext{&mem, irq, kMmioBase, {}});
    ASSERT_TRUE(d) << d.error().to_string();
    dev = *d;
    drv.attach(dev);
    ASSERT_TRUE(drv.init(features) & status::kDriverOk);
  }
  void TearDown() override {
    drv.attach(nullptr);
    dev.reset();
    if (peer >= 0) ::close(peer);
  }
  // Host side: the next frame the device wrote, or empty after the timeout.
  std::vector<uint8_t> tap_read(int timeout_ms = 2000) {
    std::vector<uint8_t> buf(70000);
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      ssize_t n = ::read(peer, buf.data(), buf.size());
      if (n >= 0) {
        buf.resize(size_t(n));
        return buf;
      }
      if (std::chrono::steady_clock::now() > end) return {};
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  void tap_write(const std::vector<uint8_t>& frame_with_header) {
    ASSERT_EQ(::write(peer, frame_with_header.data(), frame_with_header.size()),
              ssize_t(frame_with_header.size()));
  }
  // A tx chain at descriptor `i`: header and frame in one buffer.
  void send(uint16_t i, const std::vector<uint8_t>& frame, NetHeader h = {}) {
    GuestAddress at = kTxBuf + uint64_t(i) * 0x10000;
    ASSERT_TRUE(mem.write_obj(at, h));
    ASSERT_TRUE(mem.write(at + kHeaderSize, frame.data(), frame.size()));
    drv.set_desc(kTxQueue, i, at, uint32_t(kHeaderSize + frame.size()), 0);
    drv.submit(kTxQueue, i);
  }
  void give_rx(uint16_t i, uint32_t len, bool notify = true) {
    drv.set_desc(kRxQueue, i, kRxBuf + uint64_t(i) * 0x10000, len, kDescFlagWrite);
    drv.submit(kRxQueue, i, notify);
  }
  json::Json metrics() { return dev->metrics(); }
  uint64_t m(const char* dir, const char* key) { return metrics()[dir][key].get<uint64_t>(); }
};

TEST_F(NetDeviceTest, IdentifiesAsNetWithMacAndLinkUp) {
  NetConfig c;
  c.mac = std::array<uint8_t, 6>{0x06, 1, 2, 3, 4, 5};
  start(c);
  EXPECT_EQ(drv.r32(reg::kDeviceId), kDeviceTypeNet);
  uint64_t f = drv.device_features();
  for (uint64_t bit : {kFeatureMac, kFeatureStatus, kFeatureMrgRxbuf, kFeatureCsum,
                       kFeatureGuestCsum, kFeatureGuestTso4, kFeatureGuestTso6, kFeatureGuestUfo,
                       kFeatureHostTso4, kFeatureHostTso6, kFeatureHostUfo, kFeatureVersion1})
    EXPECT_TRUE(f & bit) << std::hex << bit;
  uint8_t config[10];
  dev->read(reg::kConfig, {config, 10});
  EXPECT_EQ(std::vector<uint8_t>(config, config + 6), (std::vector<uint8_t>{0x06, 1, 2, 3, 4, 5}));
  EXPECT_EQ(config[6] | config[7] << 8, kStatusLinkUp);
}

TEST_F(NetDeviceTest, GeneratedMacIsLocallyAdministeredUnicastAndStable) {
  auto a = generated_mac("eth0", "tap0"), b = generated_mac("eth0", "tap0"),
       c = generated_mac("eth1", "tap0");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a[0] & 3, 2) << "locally administered, not multicast";
}

TEST_F(NetDeviceTest, TxFrameReachesTheTapByteExact) {
  start();
  auto frame = test_frame(1500, 3);
  send(0, frame);
  ASSERT_TRUE(drv.wait_used(kTxQueue, 1));
  auto got = tap_read();
  ASSERT_EQ(got.size(), kHeaderSize + frame.size());
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHeaderSize, got.end()), frame);
  EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + kHeaderSize),
            std::vector<uint8_t>(kHeaderSize, 0));
  EXPECT_EQ(m("tx", "frames"), 1u);
  EXPECT_EQ(m("tx", "bytes"), 1500u);
}

TEST_F(NetDeviceTest, TxHeaderSplitOverDescriptorsAndIndirectFrame) {
  start();
  NetHeader h{};
  h.flags = kHdrFlagNeedsCsum;
  h.csum_start = 34;
  h.csum_offset = 16;
  ASSERT_TRUE(mem.write_obj(kTxBuf, h));
  auto frame = test_frame(200, 9);
  ASSERT_TRUE(mem.write(kTxBuf + 0x1000, frame.data(), 200));
  drv.set_desc(kTxQueue, 0, kTxBuf, 4, kDescFlagNext, 1);
  drv.set_desc(kTxQueue, 1, kTxBuf + 4, 8, kDescFlagNext, 2);
  drv.set_desc(kTxQueue, 2, kTxBuf + 0x1000, 200, 0);
  drv.submit(kTxQueue, 0);
  ASSERT_TRUE(drv.wait_used(kTxQueue, 1));
  auto got = tap_read();
  ASSERT_EQ(got.size(), 212u);
  NetHeader seen;
  std::memcpy(&seen, got.data(), kHeaderSize);
  EXPECT_EQ(seen.flags, kHdrFlagNeedsCsum);
  EXPECT_EQ(seen.csum_start, 34);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + 12, got.end()), frame);
}

TEST_F(NetDeviceTest, RxDeliversHeaderAndFrameInOneBuffer) {
  start({}, ~kFeatureMrgRxbuf);
  give_rx(0, 2048);
  auto frame = test_frame(12 + 100, 1);
  std::memset(frame.data(), 0, kHeaderSize);
  tap_write(frame);
  ASSERT_TRUE(drv.wait_used(kRxQueue, 1));
  auto [id, len] = drv.used(kRxQueue, 0);
  EXPECT_EQ(id, 0u);
  EXPECT_EQ(len, 112u);
  std::vector<uint8_t> got(112);
  ASSERT_TRUE(mem.read(kRxBuf, got.data(), 112));
  NetHeader h;
  std::memcpy(&h, got.data(), kHeaderSize);
  EXPECT_EQ(h.num_buffers, 1);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + 12, got.end()),
            std::vector<uint8_t>(frame.begin() + 12, frame.end()));
  EXPECT_EQ(m("rx", "frames"), 1u);
  EXPECT_EQ(m("rx", "bytes"), 100u);
}

TEST_F(NetDeviceTest, MergeableRxBuffersCarryOneFrameOverSeveralChains) {
  start();
  for (uint16_t i = 0; i < 4; ++i) give_rx(i, 64);
  auto frame = test_frame(12 + 200, 5);
  std::memset(frame.data(), 0, kHeaderSize);
  tap_write(frame);
  ASSERT_TRUE(drv.wait_used(kRxQueue, 4));
  std::vector<uint8_t> got;
  for (uint16_t i = 0; i < 4; ++i) {
    auto [id, len] = drv.used(kRxQueue, i);
    EXPECT_EQ(id, i);
    EXPECT_EQ(len, i < 3 ? 64u : 20u);
    std::vector<uint8_t> part(len);
    ASSERT_TRUE(mem.read(kRxBuf + uint64_t(id) * 0x10000, part.data(), len));
    got.insert(got.end(), part.begin(), part.end());
  }
  NetHeader h;
  std::memcpy(&h, got.data(), kHeaderSize);
  EXPECT_EQ(h.num_buffers, 4);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + 12, got.end()),
            std::vector<uint8_t>(frame.begin() + 12, frame.end()));
}

TEST_F(NetDeviceTest, AFrameWaitsForBuffersAndTheTapIsNotPolledMeanwhile) {
  start();
  auto frame = test_frame(12 + 300, 2);
  std::memset(frame.data(), 0, kHeaderSize);
  tap_write(frame);
  tap_write(frame);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(m("rx", "frames"), 0u);
  EXPECT_EQ(m("rx", "dropped"), 0u);
  give_rx(0, 2048);  // the doorbell delivers the waiting frame, then the next waits again
  ASSERT_TRUE(drv.wait_used(kRxQueue, 1));
  give_rx(1, 2048);
  ASSERT_TRUE(drv.wait_used(kRxQueue, 1));
  EXPECT_EQ(m("rx", "frames"), 2u);
  // Buffers posted without a doorbell are found when the tap wakes the thread.
  give_rx(2, 2048, /*notify=*/false);
  tap_write(frame);
  ASSERT_TRUE(drv.wait_used(kRxQueue, 1));
}

TEST_F(NetDeviceTest, RxFrameTooBigForOneBufferWithoutMergeIsDroppedAndCounted) {
  start({}, ~kFeatureMrgRxbuf);
  give_rx(0, 100);
  auto big = test_frame(12 + 500, 1), small = test_frame(12 + 50, 2);
  tap_write(big);
  tap_write(small);
  ASSERT_TRUE(drv.wait_used(kRxQueue, 1));
  EXPECT_EQ(drv.used(kRxQueue, 0).second, 62u);
  EXPECT_EQ(m("rx", "dropped"), 1u);
}

TEST_F(NetDeviceTest, RuntsFromTheTapAreDroppedAndCounted) {
  start();
  give_rx(0, 2048);
  for (int i = 0; i < 50; ++i)
    tap_write(test_frame(5 + i % 20, 1));  // shorter than header + Ethernet header
  tap_write(test_frame(12 + 64, 2));
  ASSERT_TRUE(drv.wait_used(kRxQueue, 1));
  EXPECT_EQ(drv.used(kRxQueue, 0).second, 76u);
  EXPECT_EQ(m("rx", "dropped"), 50u);
  EXPECT_EQ(m("rx", "frames"), 1u);
}

TEST_F(NetDeviceTest, MalformedTxChainsAreCountedAndTheDeviceCarriesOn) {
  start();
  // Writable descriptor in a tx chain.
  drv.set_desc(kTxQueue, 0, kTxBuf, 100, kDescFlagWrite);
  drv.submit(kTxQueue, 0);
  // Oversized: 70000 bytes.
  drv.set_desc(kTxQueue, 1, kTxBuf, 70000, 0);
  drv.submit(kTxQueue, 1);
  // Short: header only.
  drv.set_desc(kTxQueue, 2, kTxBuf, 12, 0);
  drv.submit(kTxQueue, 2);
  // Unknown gso type.
  NetHeader bad{};
  bad.gso_type = 9;
  send(3, test_frame(100, 1), bad);
  // Buffer outside RAM: a chain error.
  drv.set_desc(kTxQueue, 4, kRamSize - 8, 100, 0);
  drv.submit(kTxQueue, 4);
  ASSERT_TRUE(drv.wait_used(kTxQueue, 5));
  auto good = test_frame(60, 4);
  send(5, good);
  ASSERT_TRUE(drv.wait_used(kTxQueue, 1));
  auto got = tap_read();
  ASSERT_EQ(got.size(), 72u) << "only the good frame reached the tap";
  EXPECT_TRUE(tap_read(50).empty());
  auto j = metrics();
  EXPECT_EQ(j["tx"]["refused"]["writable_descriptor"], 1);
  EXPECT_EQ(j["tx"]["refused"]["oversized"], 1);
  EXPECT_EQ(j["tx"]["refused"]["short_frame"], 1);
  EXPECT_EQ(j["tx"]["refused"]["bad_gso"], 1);
  EXPECT_EQ(j["guest_errors"]["bad_request"], 4);
  EXPECT_EQ(j["guest_errors"]["buffer_out_of_ram"], 1);
  EXPECT_EQ(j["tx"]["frames"], 1);
  EXPECT_EQ(j["needs_reset"], 0);
}

TEST_F(NetDeviceTest, MalformedRxChainsAreCountedAndSkipped) {
  start();
  drv.set_desc(kRxQueue, 0, kRxBuf, 100, 0);  // device-readable: not a receive buffer
  drv.submit(kRxQueue, 0);
  give_rx(1, 8);  // no room for the header
  give_rx(2, 2048);
  tap_write(test_frame(12 + 64, 1));
  ASSERT_TRUE(drv.wait_used(kRxQueue, 3));
  EXPECT_EQ(drv.used(kRxQueue, 0), std::make_pair(0u, 0u));
  EXPECT_EQ(drv.used(kRxQueue, 1), std::make_pair(1u, 0u));
  EXPECT_EQ(drv.used(kRxQueue, 2), std::make_pair(2u, 76u));
  EXPECT_EQ(m("rx", "bad_buffers"), 2u);
}

TEST_F(NetDeviceTest, FloodsAreBoundedAndPauseStillWorks) {
  start();
  // A tap flood with a few buffers: each buffer takes one frame, the rest wait in the socket.
  int sent = 0;
  for (auto f = test_frame(12 + 1000, 1); sent < 1000 && ::write(peer, f.data(), f.size()) > 0;)
    ++sent;
  ASSERT_GT(sent, 20) << "the host end fills up (EAGAIN) long before the guest drains it";
  for (uint16_t i = 0; i < 8; ++i) give_rx(i, 2048);
  ASSERT_TRUE(drv.wait_used(kRxQueue, 8));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(m("rx", "frames"), 8u);
  // A tx flood of broken chains: every one answered and counted, none reaches the tap.
  for (uint16_t i = 0; i < kQs; ++i) {
    drv.set_desc(kTxQueue, i, kTxBuf, 70000, 0);
    drv.submit(kTxQueue, i, i == kQs - 1);
  }
  ASSERT_TRUE(drv.wait_used(kTxQueue, kQs));
  EXPECT_EQ(metrics()["tx"]["refused"]["oversized"], kQs);
  ASSERT_TRUE(dev->pause());
  ASSERT_TRUE(dev->resume());
  send(0, test_frame(100, 1));
  ASSERT_TRUE(drv.wait_used(kTxQueue, 1));
  EXPECT_EQ(tap_read().size(), 112u);
}

TEST_F(NetDeviceTest, TxLimiterHoldsFramesInTheRingUntilTheBucketRefills) {
  NetConfig c;
  c.tx_rate_limiter = RateLimiterConfig{std::nullopt, TokenBucketConfig{2, 0, 300}};
  start(c);
  for (uint16_t i = 0; i < 4; ++i) send(i, test_frame(100, uint8_t(i)));
  ASSERT_TRUE(drv.wait_used(kTxQueue, 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(drv.used_idx(kTxQueue), 2) << "the third frame went before the refill";
  EXPECT_GE(m("tx", "throttled"), 1u);
  ASSERT_TRUE(drv.wait_used(kTxQueue, 2, 3000))
      << "held frames must go after the refill, no doorbell";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(tap_read().size(), 112u);
}

// A held frame must bring the device thread back even when its wait is already over by the time
// the thread asks retry_at() (at high rates the wait is microseconds, and a busy host may run
// the thread late): a bug once, the thread then slept until a doorbell that a guest waiting for
// its ring never sends. NetLogic directly, no transport, so the timing is ours.
TEST_F(NetDeviceTest, AHeldFrameAsksForARetryEvenAfterItsWaitIsOver) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  peer = sv[1];
  NetConfig c;
  c.iface_id = "eth0";
  c.tx_rate_limiter =
      RateLimiterConfig{std::nullopt, TokenBucketConfig{1, 0, 200}};  // 1 frame per 200 ms: held even on a loaded host
  NetLogic logic(c, Tap::adopt(Fd(sv[0]), "fake0"), &mem);
  logic.activate(kFeatureVersion1);
  QueueLayout layout{kQs, kRings[kTxQueue].desc, kRings[kTxQueue].avail, kRings[kTxQueue].used};
  Virtqueue q(&mem, layout, false);
  auto frame = test_frame(60, 1);
  for (uint16_t i = 0; i < 2; ++i) {
    GuestAddress at = kTxBuf + 0x100 * i;
    ASSERT_TRUE(mem.write_obj(at, NetHeader{}));
    ASSERT_TRUE(mem.write(at + kHeaderSize, frame.data(), frame.size()));
    ASSERT_TRUE(mem.write_obj(layout.desc + 16 * i, RawDesc{at, uint32_t(kHeaderSize + 60), 0, 0}));
    ASSERT_TRUE(mem.write_obj<uint16_t>(layout.avail + 4 + 2 * i, i));
  }
  ASSERT_TRUE(mem.write_obj<uint16_t>(layout.avail + 2, 2));
  DeviceCounters counters;
  auto done = logic.process(kTxQueue, q, 64, counters);
  ASSERT_TRUE(done);
  EXPECT_EQ(*done, 1u) << "the second frame is held";
  EXPECT_TRUE(logic.retry_at());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));  // the wait is over
  auto at = logic.retry_at();
  ASSERT_TRUE(at) << "a held frame and no retry time: the device thread would sleep for good";
  EXPECT_LE(*at, std::chrono::steady_clock::now());
  done = logic.process(kTxQueue, q, 64, counters);
  ASSERT_TRUE(done);
  EXPECT_EQ(*done, 1u);
  EXPECT_FALSE(logic.retry_at()) << "nothing held any more";
}

TEST_F(NetDeviceTest, RxLimiterHoldsFramesUntilTheBucketRefills) {
  NetConfig c;
  c.rx_rate_limiter = RateLimiterConfig{TokenBucketConfig{1000, 0, 1000}, std::nullopt};
  start(c);
  for (uint16_t i = 0; i < 4; ++i) give_rx(i, 2048);
  for (int i = 0; i < 3; ++i) tap_write(test_frame(12 + 400, uint8_t(i)));
  ASSERT_TRUE(drv.wait_used(kRxQueue, 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(drv.used_idx(kRxQueue), 2);
  EXPECT_GE(m("rx", "throttled"), 1u);
  ASSERT_TRUE(drv.wait_used(kRxQueue, 1, 3000));
  EXPECT_EQ(m("rx", "frames"), 3u);
}

TEST_F(NetDeviceTest, LimitersChangeOnARunningDevice) {
  NetConfig c;
  c.tx_rate_limiter = RateLimiterConfig{std::nullopt, TokenBucketConfig{1, 0, 60'000}};
  start(c);
  send(0, test_frame(100, 1));
  send(1, test_frame(100, 2));
  ASSERT_TRUE(drv.wait_used(kTxQueue, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(drv.used_idx(kTxQueue), 1);
  ASSERT_TRUE(dev->set_rate_limiter("tx_rate_limiter", std::nullopt));
  ASSERT_TRUE(drv.wait_used(kTxQueue, 1, 1000)) << "removing the limiter releases the held frame";
  EXPECT_FALSE(metrics().contains("tx_rate_limiter"));
  ASSERT_TRUE(dev->set_rate_limiter(
      "rx_rate_limiter", RateLimiterConfig{TokenBucketConfig{10, 0, 100}, std::nullopt}));
  EXPECT_EQ(metrics()["rx_rate_limiter"]["bandwidth"]["size"], 10);
  EXPECT_FALSE(dev->set_rate_limiter("rate_limiter", std::nullopt));
}

TEST_F(NetDeviceTest, WithEventIdxTheDeviceAsksForTheNextDoorbell) {
  start();  // every offered feature, EVENT_IDX among them
  ASSERT_TRUE(drv.device_features() & kFeatureEventIdx);
  send(0, test_frame(100, 1));
  ASSERT_TRUE(drv.wait_used(kTxQueue, 1));
  EXPECT_EQ(tap_read().size(), 112u);
  auto avail_event = [&](uint16_t q) {
    return *mem.read_obj<uint16_t>(kRings[q].used + 4 + 8 * kQs);
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (avail_event(kTxQueue) != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(avail_event(kTxQueue), 1) << "tx ring drained: notify for chain 1";
  give_rx(0, 2048);
  tap_write(test_frame(12 + 60, 2));
  ASSERT_TRUE(drv.wait_used(kRxQueue, 1));
  EXPECT_EQ(m("rx", "frames"), 1u);
}

TEST_F(NetDeviceTest, OffloadFlagsFollowTheGuestFeatures) {
  EXPECT_EQ(tun_offload_flags(0), 0u);
  EXPECT_EQ(tun_offload_flags(kFeatureGuestTso4), 0u) << "no segmentation without checksum offload";
  EXPECT_EQ(tun_offload_flags(kFeatureGuestCsum | kFeatureGuestTso4 | kFeatureGuestTso6 |
                              kFeatureGuestUfo),
            0x1u | 0x2u | 0x4u | 0x10u);
}

// Snapshots: the MAC the guest read and a frame read from the tap that waited for receive buffers
// move to a new device (the new process: the configuration has no MAC, its generated one differs),
// which delivers the frame on the driver's next buffer.
TEST_F(NetDeviceTest, SavedStateMovesToANewDeviceWithItsMacAndItsWaitingFrame) {
  NetConfig c;
  c.mac = std::array<uint8_t, 6>{0x06, 1, 2, 3, 4, 5};
  start(c);
  auto frame = test_frame(12 + 300, 4);
  std::memset(frame.data(), 0, kHeaderSize);
  tap_write(frame);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // read, waiting for a buffer
  ASSERT_TRUE(dev->pause());
  auto st = dev->save_state();
  auto extra = dev->save_extra();
  ASSERT_TRUE(st && extra);
  const auto* net = std::get_if<snapshot::NetState>(&*extra);
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->mmio_base, kMmioBase);
  EXPECT_EQ(net->iface_id, "eth0");
  EXPECT_EQ(net->host_dev_name, "fake0");
  EXPECT_EQ(net->mac, (std::array<uint8_t, 6>{0x06, 1, 2, 3, 4, 5}));
  EXPECT_FALSE(net->vhost);
  ASSERT_EQ(net->rx_frame.size(), frame.size());
  EXPECT_EQ(std::vector<uint8_t>(net->rx_frame.begin(), net->rx_frame.end()), frame);

  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  NetConfig c2;
  c2.iface_id = "eth0";
  c2.host_dev_name = "fake0";
  auto fresh = create_net_with_tap(c2, Tap::adopt(Fd(sv[0]), "fake0"), DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_TRUE(fresh);
  ASSERT_TRUE((*fresh)->restore_extra(*extra));
  ASSERT_TRUE((*fresh)->restore_state(*st));
  auto old = std::exchange(dev, *fresh);
  drv.attach(dev);
  old.reset();
  ::close(peer);
  peer = sv[1];
  uint8_t config[6];
  dev->read(reg::kConfig, {config, 6});
  EXPECT_EQ(std::vector<uint8_t>(config, config + 6), (std::vector<uint8_t>{0x06, 1, 2, 3, 4, 5}));
  give_rx(0, 2048);
  ASSERT_TRUE(drv.wait_used(kRxQueue, 1));
  EXPECT_EQ(drv.used(kRxQueue, 0).second, frame.size());
  std::vector<uint8_t> got(300);
  ASSERT_TRUE(mem.read(kRxBuf + kHeaderSize, got.data(), got.size()));
  EXPECT_EQ(got, std::vector<uint8_t>(frame.begin() + kHeaderSize, frame.end()));
  // And the new tap works both ways.
  auto tx = test_frame(100, 8);
  send(0, tx);
  ASSERT_TRUE(drv.wait_used(kTxQueue, 1));
  EXPECT_EQ(tap_read().size(), kHeaderSize + tx.size());
}

// The rate limiters' bucket levels travel too: a bucket the old device had drained is drained in
// the new one (its configuration comes from the same config JSON), not full.
TEST_F(NetDeviceTest, SavedRateLimiterLevelsMoveToTheNewDevice) {
  NetConfig c;
  RateLimiterConfig limit;
  limit.bandwidth = TokenBucketConfig{100000, 0, 100000};  // 1 kB per second: slow enough to see
  c.tx_rate_limiter = limit;
  start(c);
  auto frame = test_frame(1500, 1);
  for (uint16_t i = 0; i < 10; ++i) send(i, frame);
  ASSERT_TRUE(drv.wait_used(kTxQueue, 10));
  ASSERT_TRUE(dev->pause());
  auto extra = dev->save_extra();
  ASSERT_TRUE(extra);
  const auto* net = std::get_if<snapshot::NetState>(&*extra);
  ASSERT_NE(net, nullptr);
  ASSERT_TRUE(net->tx_bandwidth.present);
  EXPECT_FALSE(net->rx_bandwidth.present);
  EXPECT_LT(net->tx_bandwidth.budget, 100000u - 14000u) << "15000 bytes were sent";
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  ::close(sv[1]);
  NetConfig c2 = c;
  c2.iface_id = "eth0";
  c2.host_dev_name = "fake0";
  auto fresh = create_net_with_tap(c2, Tap::adopt(Fd(sv[0]), "fake0"), DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_TRUE(fresh);
  ASSERT_TRUE((*fresh)->restore_extra(*extra));
  ASSERT_TRUE((*fresh)->pause());
  auto again = (*fresh)->save_extra();
  ASSERT_TRUE(again);
  const auto* moved = std::get_if<snapshot::NetState>(&*again);
  ASSERT_NE(moved, nullptr);
  EXPECT_TRUE(moved->tx_bandwidth.present);
  EXPECT_LT(moved->tx_bandwidth.budget, 100000u - 10000u) << "the new device's bucket started full";
}

TEST_F(NetDeviceTest, HostileSavedNetStateIsRefused) {
  start();
  snapshot::NetState s;
  s.mmio_base = kMmioBase;
  s.iface_id = "eth1";  // another interface
  s.host_dev_name = "fake0";
  EXPECT_FALSE(dev->restore_extra(s));
  s.iface_id = "eth0";
  s.host_dev_name = "tap9";  // another tap
  EXPECT_FALSE(dev->restore_extra(s));
  s.host_dev_name = "fake0";
  s.mmio_base = kMmioBase + 0x1000;  // another device's
  EXPECT_FALSE(dev->restore_extra(s));
  s.mmio_base = kMmioBase;
  s.rx_frame.assign(kMaxFrameWithHeader + 1, 'x');  // bigger than the device's frame buffer
  EXPECT_FALSE(dev->restore_extra(s));
  EXPECT_FALSE(dev->restore_extra(snapshot::VsockState{kMmioBase, 3, "/tmp/v.sock"}));  // another kind
  s.rx_frame.clear();
  EXPECT_TRUE(dev->restore_extra(s));
}

}  // namespace
}  // namespace vessel::vmm::virtio::net
