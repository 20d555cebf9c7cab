// virtio-blk end to end through its MMIO registers, on a real raw image (vessel_block): data
// written by the "guest" lands in the file, reads return the file, flush/get-id work, and a
// read-only disk refuses writes with IOERR.
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <fstream>
#include <string>

#include "block/qcow2_create.h"
#include "fake_driver.h"
#include "vmm/devices/virtio/block/virtio_blk.h"

namespace vessel::vmm::virtio {
namespace {

using namespace testing;

struct BlkHeader {
  uint32_t type, reserved;
  uint64_t sector;
};

inline constexpr GuestAddress kHeader = kData, kBuf = kData + 0x10000, kStatus = kData + 0x8000;

std::string temp_image(uint64_t size, char fill) {
  char path[] = "/tmp/virtio-blk-test-XXXXXX";
  int fd = mkstemp(path);
  std::string content(size, fill);
  EXPECT_EQ(write(fd, content.data(), size), static_cast<ssize_t>(size));
  close(fd);
  return path;
}

std::string file_bytes(const std::string& path, uint64_t offset, uint64_t len) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(offset);
  std::string s(len, '\0');
  in.read(s.data(), len);
  return s;
}

class BlkDeviceTest : public ::testing::Test {
 protected:
  GuestMemory mem = make_memory();
  std::shared_ptr<CountingIrq> irq = std::make_shared<CountingIrq>();
  FakeDriver drv{mem};
  std::string path;
  std::vector<std::tuple<uint64_t, uint32_t, std::optional<uint64_t>, int>> ioeventfds;

  void TearDown() override {
    if (!path.empty()) unlink(path.c_str());
  }

  void start(bool read_only = false, uint32_t max_in_flight = 128, char fill = 'a',
             uint32_t poll_us = 0, std::optional<RateLimiterConfig> limiter = std::nullopt) {
    path = temp_image(1 << 20, fill);
    BlockConfig cfg{.drive_id = "rootfs-disk", .path = path, .read_only = read_only,
                    .max_in_flight = max_in_flight, .poll_us = poll_us, .rate_limiter = limiter};
    DeviceContext ctx{&mem, irq, kMmioBase,
                      [this](uint64_t a, uint32_t l, std::optional<uint64_t> d, int fd) -> Result<void> {
                        ioeventfds.emplace_back(a, l, d, fd);
                        return fail(ENOSYS, "no KVM in unit tests");  // fall back to register path
                      }};
    auto dev = create_block(cfg, ctx);
    ASSERT_TRUE(dev) << dev.error().to_string();
    drv.attach(*dev);
    uint32_t st = drv.init(~0ull);
    ASSERT_TRUE(st & status::kDriverOk) << st;
  }

  // Builds header / data / status at descriptors [3*slot, 3*slot+2] and submits it.
  void request(uint16_t slot, uint32_t type, uint64_t sector, GuestAddress buf, uint32_t len,
               bool data_written, bool notify = true) {
    uint16_t d = slot * 3;
    GuestAddress h = kHeader + 16 * slot, s = kStatus + slot;
    ASSERT_TRUE(mem.write_obj(h, BlkHeader{type, 0, sector}));
    ASSERT_TRUE(mem.write_obj<uint8_t>(s, 0xff));
    drv.set_desc(d, h, 16, kDescFlagNext, d + 1);
    if (len) {
      drv.set_desc(d + 1, buf, len, kDescFlagNext | (data_written ? kDescFlagWrite : 0), d + 2);
      drv.set_desc(d + 2, s, 1, kDescFlagWrite);
    } else {
      drv.set_desc(d, h, 16, kDescFlagNext, d + 2);
      drv.set_desc(d + 2, s, 1, kDescFlagWrite);
    }
    drv.submit(d, notify);
  }
  uint8_t status_of(uint16_t slot) { return *mem.read_obj<uint8_t>(kStatus + slot); }
};

TEST_F(BlkDeviceTest, IdentifiesAsBlockAndNegotiates) {
  start();
  EXPECT_EQ(drv.r32(reg::kMagic), kMagicValue);
  EXPECT_EQ(drv.r32(reg::kVersion), 2u);
  EXPECT_EQ(drv.r32(reg::kDeviceId), 2u);
  uint64_t f = drv.device_features();
  EXPECT_TRUE(f & kFeatureVersion1);
  EXPECT_TRUE(f & blk::kFeatureFlush);
  EXPECT_FALSE(f & blk::kFeatureRo);
  uint64_t capacity = 0;
  auto* p = reinterpret_cast<uint8_t*>(&capacity);
  drv.dev().read(reg::kConfig, {p, 4});
  drv.dev().read(reg::kConfig + 4, {p + 4, 4});
  EXPECT_EQ(capacity, (1u << 20) / 512);
  // The ioeventfd was offered for QueueNotify (refused here, so the register path is used).
  ASSERT_EQ(ioeventfds.size(), 1u);
  EXPECT_EQ(std::get<0>(ioeventfds[0]), kMmioBase + reg::kQueueNotify);
  EXPECT_EQ(std::get<1>(ioeventfds[0]), 4u);
}

TEST_F(BlkDeviceTest, WriteLandsInFileAndReadsBack) {
  start();
  std::string pattern(4096, '\0');
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = char('A' + i % 26);
  ASSERT_TRUE(mem.write(kBuf, pattern.data(), pattern.size()));
  request(0, 1, 16, kBuf, 4096, false);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(0), blk::kOk);
  EXPECT_EQ(drv.used(0).second, 1u);
  request(1, 4, 0, 0, 0, false);  // flush
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(1), blk::kOk);
  EXPECT_EQ(file_bytes(path, 16 * 512, 4096), pattern);
  EXPECT_EQ(file_bytes(path, 15 * 512, 512), std::string(512, 'a'));  // neighbours untouched

  request(2, 0, 16, kBuf + 0x10000, 4096, true);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(2), blk::kOk);
  EXPECT_EQ(drv.used(2).second, 4097u);
  std::string back(4096, '\0');
  ASSERT_TRUE(mem.read(kBuf + 0x10000, back.data(), back.size()));
  EXPECT_EQ(back, pattern);
  EXPECT_TRUE(irq->wait_at_least(1));

  auto m = drv.dev().metrics();
  EXPECT_EQ(m["requests"]["write"], 1);
  EXPECT_EQ(m["requests"]["read"], 1);
  EXPECT_EQ(m["requests"]["flush"], 1);
  EXPECT_EQ(m["bytes"]["written"], 4096);
  EXPECT_EQ(m["bytes"]["read"], 4096);
}

TEST_F(BlkDeviceTest, GetIdReturnsDriveId) {
  start();
  request(0, 8, 0, kBuf, 20, true);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(0), blk::kOk);
  char id[20];
  ASSERT_TRUE(mem.read(kBuf, id, 20));
  EXPECT_EQ(std::string(id), "rootfs-disk");
}

TEST_F(BlkDeviceTest, ReadOnlyDiskRefusesWrites) {
  start(/*read_only=*/true);
  EXPECT_TRUE(drv.device_features() & blk::kFeatureRo);
  std::string zeros(512, 'z');
  ASSERT_TRUE(mem.write(kBuf, zeros.data(), 512));
  request(0, 1, 0, kBuf, 512, false);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(0), blk::kIoErr);
  EXPECT_EQ(file_bytes(path, 0, 512), std::string(512, 'a'));
  auto m = drv.dev().metrics();
  EXPECT_EQ(m["refused_requests"]["read_only"], 1);
  request(1, 0, 0, kBuf, 512, true);  // reads still work
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(1), blk::kOk);
}

TEST_F(BlkDeviceTest, BadRequestFailsOnlyThatRequest) {
  start();
  request(0, 0, 1 << 20, kBuf, 512, true);  // past the end of the disk
  request(1, 0, 0, kBuf, 100, true);        // not a multiple of 512
  request(2, 0, 0, kBuf, 512, true);        // fine
  ASSERT_TRUE(drv.wait_used(3));
  EXPECT_EQ(status_of(0), blk::kIoErr);
  EXPECT_EQ(status_of(1), blk::kIoErr);
  EXPECT_EQ(status_of(2), blk::kOk);
  auto m = drv.dev().metrics();
  EXPECT_EQ(m["refused_requests"]["sector_range"], 1);
  EXPECT_EQ(m["refused_requests"]["unaligned_length"], 1);
  EXPECT_EQ(m["guest_errors"]["bad_request"], 2);
  EXPECT_EQ(m["needs_reset"], 0);
}

TEST_F(BlkDeviceTest, BufferOutsideRamCompletedWithZeroLength) {
  start();
  request(0, 0, 0, testing::kRamSize - 256, 512, true);  // data straddles the end of RAM
  request(1, 0, 0, kBuf, 512, true);
  ASSERT_TRUE(drv.wait_used(2));
  EXPECT_EQ(drv.used(0).second, 0u);
  EXPECT_EQ(status_of(0), 0xff);  // untouched: the chain was not trusted
  EXPECT_EQ(status_of(1), blk::kOk);
  EXPECT_EQ(drv.dev().metrics()["guest_errors"]["buffer_out_of_ram"], 1);
}

TEST_F(BlkDeviceTest, DiscardAndWriteZeroes) {
  start(false, 128, 'q');
  struct Seg {
    uint64_t sector;
    uint32_t num, flags;
  };
  ASSERT_TRUE(mem.write_obj(kBuf, Seg{8, 8, 0}));
  request(0, 13, 0, kBuf, 16, false);  // write zeroes over sectors 8..15
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(0), blk::kOk);
  EXPECT_EQ(file_bytes(path, 8 * 512, 4096), std::string(4096, '\0'));
  EXPECT_EQ(file_bytes(path, 16 * 512, 512), std::string(512, 'q'));
  ASSERT_TRUE(mem.write_obj(kBuf, Seg{100, 1, 0}));
  request(1, 11, 0, kBuf, 16, false);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(1), blk::kOk);
}

TEST_F(BlkDeviceTest, ManyRequestsWithSmallInFlightBound) {
  start(false, /*max_in_flight=*/2);
  for (uint16_t i = 0; i < 40; ++i) request(i, 0, i, kBuf + 512 * i, 512, true, /*notify=*/false);
  drv.w32(reg::kQueueNotify, 0);  // one doorbell for all 40
  ASSERT_TRUE(drv.wait_used(40));
  std::set<uint32_t> heads;  // each request completed exactly once
  for (uint16_t i = 0; i < 40; ++i) heads.insert(drv.used(i).first);
  EXPECT_EQ(heads.size(), 40u);
  for (uint16_t i = 0; i < 40; ++i) EXPECT_EQ(status_of(i), blk::kOk) << i;
}

// Firecracker's rate limiter on a drive: requests over the rate stay in the ring and are served
// when the bucket has refilled, without another doorbell. An ops bucket of 2 per 300 ms: the
// first two pass at once, each of the other three waits for its 150 ms (a lower bound only: a
// loaded machine makes it slower, never faster).
TEST_F(BlkDeviceTest, RateLimiterHoldsRequestsInTheRingUntilTheBucketRefills) {
  RateLimiterConfig limiter;
  limiter.ops = TokenBucketConfig{2, 0, 300};
  start(false, 128, 'a', 0, limiter);
  auto begin = std::chrono::steady_clock::now();
  for (uint16_t i = 0; i < 5; ++i) request(i, 0, i, kBuf + 512 * i, 512, true, /*notify=*/false);
  drv.w32(reg::kQueueNotify, 0);  // one doorbell for all five
  ASSERT_TRUE(drv.wait_used(5, 10000));
  auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(elapsed, std::chrono::milliseconds(440));
  for (uint16_t i = 0; i < 5; ++i) EXPECT_EQ(status_of(i), blk::kOk) << i;
  auto m = drv.dev().metrics();
  EXPECT_GE(m["throttled_requests"].get<uint64_t>(), 3u);
  EXPECT_EQ(m["requests"]["read"], 5);
  EXPECT_EQ(m["rate_limiter"]["ops"]["size"], 2);
}

TEST_F(BlkDeviceTest, RateLimiterChangesOnARunningDevice) {
  RateLimiterConfig slow;
  slow.ops = TokenBucketConfig{1, 0, 60'000};  // one request a minute
  start(false, 128, 'a', 0, slow);
  for (uint16_t i = 0; i < 3; ++i) request(i, 0, i, kBuf + 512 * i, 512, true, /*notify=*/false);
  drv.w32(reg::kQueueNotify, 0);
  ASSERT_TRUE(drv.wait_used(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(drv.used_idx(), 1) << "held by the limiter";
  RateLimiterConfig fast;
  fast.ops = TokenBucketConfig{100, 0, 100};
  ASSERT_TRUE(drv.dev().set_rate_limiter("rate_limiter", fast));
  ASSERT_TRUE(drv.wait_used(2, 1000)) << "the new limiter releases the held requests at once";
  EXPECT_EQ(drv.dev().metrics()["rate_limiter"]["ops"]["size"], 100);
  ASSERT_TRUE(drv.dev().set_rate_limiter("rate_limiter", std::nullopt));
  EXPECT_FALSE(drv.dev().metrics().contains("rate_limiter"));
  EXPECT_FALSE(drv.dev().set_rate_limiter("rx_rate_limiter", std::nullopt));
}

TEST_F(BlkDeviceTest, PollingServesRequestsWithoutDoorbellAndStillPauses) {
  // A long spell (2 s: pause() below ends it at once), so that a test thread the host keeps off
  // the CPU (ASan, a loaded CI machine) still looks within it: 200 ms failed there.
  start(false, 128, 'a', /*poll_us=*/2000000);
  request(0, 0, 0, kBuf, 512, true);
  ASSERT_TRUE(drv.wait_used(1));
  // Polling: the device tells the driver it may skip the doorbell (VIRTQ_USED_F_NO_NOTIFY). It
  // sets the flag just after publishing the completion, so the test waits for it a little.
  auto flag_set = [&] {
    for (int i = 0; i < 1500 && *mem.read_obj<uint16_t>(kUsed) != kUsedFlagNoNotify; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return *mem.read_obj<uint16_t>(kUsed) == kUsedFlagNoNotify;
  };
  EXPECT_TRUE(flag_set());
  // Within the polling spell the device sees new chains without any notification.
  request(1, 0, 1, kBuf, 512, true, /*notify=*/false);
  ASSERT_TRUE(drv.wait_used(1, 1500));
  EXPECT_EQ(status_of(1), blk::kOk);
  // pause() ends the spell at once, and nothing is served until resume().
  ASSERT_TRUE(drv.dev().pause());
  EXPECT_EQ(*mem.read_obj<uint16_t>(kUsed), 0) << "NO_NOTIFY left set after the spell";
  request(2, 0, 2, kBuf, 512, true, /*notify=*/false);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(status_of(2), 0xff) << "served while paused";
  ASSERT_TRUE(drv.dev().resume());
  drv.w32(reg::kQueueNotify, 0);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(2), blk::kOk);
}

TEST_F(BlkDeviceTest, Qcow2ImageThroughTheDevice) {
  char tmpl[] = "/tmp/virtio-blk-qcow2-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  path = tmpl;
  ASSERT_TRUE(block::qcow2::create(path, {.size = 4 << 20}));
  BlockConfig cfg{.drive_id = "q", .path = path, .format = block::Format::Qcow2};
  auto dev = create_block(cfg, DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_TRUE(dev) << dev.error().to_string();
  drv.attach(*dev);
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  std::string pattern(8192, '\0');
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = char(i * 7 + 1);
  ASSERT_TRUE(mem.write(kBuf, pattern.data(), pattern.size()));
  request(0, 1, 100, kBuf, 8192, false);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(0), blk::kOk);
  request(1, 4, 0, 0, 0, false);
  ASSERT_TRUE(drv.wait_used(1));
  drv.attach(nullptr);
  dev->reset();
  // Read it back through vessel_block on its own: the bytes are in the qcow2 image.
  auto backend = block::open_backend(path, block::Format::Qcow2, {.read_only = true});
  ASSERT_TRUE(backend) << backend.error().to_string();
  std::string back(8192, '\0');
  iovec v{back.data(), back.size()};
  ASSERT_TRUE((*backend)->readv(100 * 512, {&v, 1}));
  EXPECT_EQ(back, pattern);
}

TEST_F(BlkDeviceTest, OpenFailureIsAnError) {
  BlockConfig cfg{.drive_id = "x", .path = "/nonexistent/disk.img"};
  auto dev = create_block(cfg, DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_FALSE(dev);
  EXPECT_NE(dev.error().to_string().find("/nonexistent/disk.img"), std::string::npos);
  cfg.path = temp_image(4096, 0);
  cfg.queue_size = 100;
  auto bad = create_block(cfg, DeviceContext{&mem, irq, kMmioBase, {}});
  unlink(cfg.path.c_str());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("queue size"), std::string::npos);
}

// A backend whose reads of sector 0 wait (up to 2 s) until a read of another sector has run:
// served one after another, the first request would time out with IOERR; served concurrently,
// the second completes first and then releases the first.
class GatedBackend : public block::BlockBackend {
 public:
  uint64_t size() const override { return 1 << 20; }
  bool read_only() const override { return false; }
  Result<void> readv(uint64_t offset, std::span<const iovec>) override {
    std::unique_lock lock(mu_);
    if (offset == 0) {
      if (!cv_.wait_for(lock, std::chrono::seconds(2), [&] { return others_ > 0; }))
        return fail(ETIMEDOUT, "the other request never ran");
      lock.unlock();
      // Give the other request time to be published first (it is not waiting for anything).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      return {};
    }
    ++others_;
    cv_.notify_all();
    return {};
  }
  Result<void> writev(uint64_t, std::span<const iovec>) override { return {}; }
  Result<void> flush() override { return {}; }
  Result<void> discard(uint64_t, uint64_t, bool) override { return {}; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int others_ = 0;
};

TEST_F(BlkDeviceTest, RequestsRunConcurrentlyAndCompleteOutOfOrder) {
  BlockConfig cfg{.drive_id = "gated", .path = ""};
  auto dev = create_block_with_backend(cfg, std::make_unique<GatedBackend>(), DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_TRUE(dev) << dev.error().to_string();
  drv.attach(*dev);
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  request(0, 0, 0, kBuf, 512, true, /*notify=*/false);  // waits for the other one
  request(1, 0, 8, kBuf + 4096, 512, true, /*notify=*/false);
  drv.w32(reg::kQueueNotify, 0);
  ASSERT_TRUE(drv.wait_used(2));
  EXPECT_EQ(status_of(0), blk::kOk);
  EXPECT_EQ(status_of(1), blk::kOk);
  EXPECT_EQ(drv.used(0).first, 3u) << "the second request (head 3) completes first";
  EXPECT_EQ(drv.used(1).first, 0u);
  auto m = drv.dev().metrics();
  EXPECT_GE(m["peak_in_flight"].get<uint64_t>(), 2u);
  EXPECT_GE(m["concurrent_requests"].get<uint64_t>(), 1u);
  EXPECT_EQ(m["backend_errors"], 0);
}

TEST_F(BlkDeviceTest, WithoutWorkersRequestsRunOneAfterAnother) {
  BlockConfig cfg{.drive_id = "gated", .path = "", .io_workers = 0};
  auto dev = create_block_with_backend(cfg, std::make_unique<GatedBackend>(), DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_TRUE(dev) << dev.error().to_string();
  drv.attach(*dev);
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  request(0, 0, 0, kBuf, 512, true, false);
  request(1, 0, 8, kBuf + 4096, 512, true, false);
  drv.w32(reg::kQueueNotify, 0);
  ASSERT_TRUE(drv.wait_used(2, 10000));
  EXPECT_EQ(drv.used(0).first, 0u);  // in order, and the first one timed out
  EXPECT_EQ(status_of(0), blk::kIoErr);
}

TEST_F(BlkDeviceTest, PauseWaitsForRequestsInFlight) {
  start(false, 128);
  // 64 requests at once: most go to the workers.
  for (uint16_t i = 0; i < 64; ++i) request(i, 0, i, kBuf + 512 * i, 512, true, /*notify=*/false);
  drv.w32(reg::kQueueNotify, 0);
  ASSERT_TRUE(drv.dev().pause());
  // Paused: whatever was popped has completed; nothing is half done.
  uint16_t used = drv.used_idx();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(drv.used_idx(), used) << "a completion arrived after pause() returned";
  ASSERT_TRUE(drv.dev().resume());
  drv.w32(reg::kQueueNotify, 0);
  ASSERT_TRUE(drv.wait_used(64));
  for (uint16_t i = 0; i < 64; ++i) EXPECT_EQ(status_of(i), blk::kOk) << i;
  EXPECT_GT(drv.dev().metrics()["concurrent_requests"].get<uint64_t>(), 0u);
}

// Reads below sector 3 take 200 ms: long enough to reset the device while they run on the
// workers (the batch's last request, sector 3, runs on the device thread and is quick).
class SlowBackend : public block::BlockBackend {
 public:
  uint64_t size() const override { return 1 << 20; }
  bool read_only() const override { return false; }
  Result<void> readv(uint64_t offset, std::span<const iovec>) override {
    if (offset < 3 * 512) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return {};
  }
  Result<void> writev(uint64_t, std::span<const iovec>) override { return {}; }
  Result<void> flush() override { return {}; }
  Result<void> discard(uint64_t, uint64_t, bool) override { return {}; }
};

TEST_F(BlkDeviceTest, CompletionsFromBeforeAResetAreDropped) {
  BlockConfig cfg{.drive_id = "slow", .path = ""};
  auto dev = create_block_with_backend(cfg, std::make_unique<SlowBackend>(), DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_TRUE(dev) << dev.error().to_string();
  drv.attach(*dev);
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  for (uint16_t i = 0; i < 4; ++i) request(i, 0, i, kBuf + 512 * i, 512, true, /*notify=*/false);
  drv.w32(reg::kQueueNotify, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // three on workers, one inline
  ASSERT_TRUE(mem.write_obj<uint16_t>(kUsed + 2, 0));
  drv.set_avail_idx(0);
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);  // reset + a fresh queue while they run
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(drv.used_idx(), 0) << "a request of the old queue was published on the new one";
  request(0, 4, 0, 0, 0, false);  // the new queue works
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(status_of(0), blk::kOk);
}

}  // namespace
}  // namespace vessel::vmm::virtio
