// A device whose rings a host kernel serves (vhost-net's shape), through the real transport with
// a fake "kernel": the doorbell is an ioeventfd with the queue's index as datamatch (and no
// catch-all one), the kernel starts on the device thread after DRIVER_OK, its call eventfd
// becomes the used-buffer bit plus an interrupt, and a reset or a pause stops it on the device
// thread before the register write or pause() returns.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "fake_driver.h"

namespace vessel::vmm::virtio {
namespace {

using namespace testing;

struct KernelLog {
  std::atomic<int> starts{0}, drains{0}, resets{0};
  std::atomic<bool> drained_off_caller{
      true};  // every drain ran on another thread than the caller's
  std::thread::id caller;
  uint16_t kernel_avail = 0;           // what the fake kernel reports as its next available index
  std::atomic<int> restored_avail{-1};  // what restored() was handed for queue 0
};

class FakeKernelLogic final : public DeviceLogic {
 public:
  FakeKernelLogic(KernelLog* log, EventFd kick, EventFd call)
      : log_(log), kick_(std::move(kick)), call_(std::move(call)) {}
  const char* name() const override { return "kernel-test"; }
  uint32_t device_type() const override { return 1; }
  uint64_t features() const override { return kFeatureVersion1; }
  uint16_t num_queues() const override { return 1; }
  uint16_t max_queue_size() const override { return 256; }
  void read_config(uint64_t, std::span<uint8_t> data) const override {
    std::fill(data.begin(), data.end(), 0);
  }
  void activate(uint64_t) override { start_pending_ = true; }
  QueueResult<size_t> process(uint16_t, Virtqueue&, size_t, DeviceCounters&) override {
    ADD_FAILURE() << "the transport popped a kernel-served queue";
    return 0;
  }
  void add_metrics(json::Json&) const override {}
  bool kernel_served() const override { return true; }
  int queue_kick_fd(uint16_t index) const override { return index == 0 ? kick_.fd() : -1; }
  int backend_fd() const override { return call_.fd(); }
  bool serve_kernel(std::span<const Virtqueue* const> queues, DeviceCounters&) override {
    if (start_pending_ && queues.size() == 1 && queues[0]) {
      start_pending_ = false;
      running_ = true;
      log_->starts++;
    }
    auto n = call_.consume();
    return n && *n;
  }
  void drain() override {
    if (!running_) return;
    running_ = false;
    start_pending_ = true;
    if (std::this_thread::get_id() == log_->caller) log_->drained_off_caller = false;
    log_->drains++;
  }
  void reset() override {
    start_pending_ = false;
    log_->resets++;
  }
  std::optional<uint16_t> kernel_next_avail(uint16_t index) const override {
    return index == 0 ? std::optional<uint16_t>(log_->kernel_avail) : std::nullopt;
  }
  void restored(std::span<const Virtqueue* const> queues) override {
    if (!queues.empty() && queues[0]) log_->restored_avail = queues[0]->position().next_avail;
  }

 private:
  KernelLog* log_;
  EventFd kick_, call_;
  bool start_pending_ = false, running_ = false;
};

struct Registration {
  uint64_t addr;
  uint32_t len;
  std::optional<uint64_t> datamatch;
  int fd;
};

class KernelServedTest : public ::testing::Test {
 protected:
  GuestMemory mem = make_memory();
  std::shared_ptr<CountingIrq> irq = std::make_shared<CountingIrq>();
  FakeDriver drv{mem};
  KernelLog log;
  int kick_fd = -1, call_fd = -1;
  std::mutex reg_mu;
  std::vector<Registration> registrations;

  void SetUp() override {
    log.caller = std::this_thread::get_id();
    auto kick = EventFd::create(0, EFD_NONBLOCK);
    auto call = EventFd::create(0, EFD_NONBLOCK);
    ASSERT_TRUE(kick && call);
    kick_fd = kick->fd();
    call_fd = call->fd();
    auto logic = std::make_unique<FakeKernelLogic>(&log, std::move(*kick), std::move(*call));
    DeviceContext ctx{&mem, irq, kMmioBase, {}};
    ctx.add_ioeventfd = [this](uint64_t addr, uint32_t len, std::optional<uint64_t> dm,
                               int fd) -> Result<void> {
      std::lock_guard lock(reg_mu);
      registrations.push_back({addr, len, dm, fd});
      return {};
    };
    auto dev = MmioTransport::create(std::move(logic), std::move(ctx), 64);
    ASSERT_TRUE(dev) << dev.error().to_string();
    drv.attach(*dev);
    ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  }
  static bool wait_for(const std::atomic<int>& v, int n) {
    for (int i = 0; i < 5000 && v.load() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return v.load() >= n;
  }
  uint64_t kicks() {
    uint64_t n = 0;
    return ::read(kick_fd, &n, sizeof n) == sizeof n ? n : 0;
  }
};

TEST_F(KernelServedTest, TheDoorbellIsAnIoeventfdWithTheQueueIndexAndNoCatchAll) {
  std::lock_guard lock(reg_mu);
  ASSERT_EQ(registrations.size(), 1u) << "one ioeventfd: the queue's, no catch-all doorbell";
  EXPECT_EQ(registrations[0].addr, kMmioBase + reg::kQueueNotify);
  EXPECT_EQ(registrations[0].len, 4u);
  EXPECT_EQ(registrations[0].datamatch, std::optional<uint64_t>(0));
  EXPECT_EQ(registrations[0].fd, kick_fd);
}

TEST_F(KernelServedTest, ANotifyThatReachesTheVmmGoesToTheKernelsKickFd) {
  (void)kicks();
  drv.w32(reg::kQueueNotify, 0);  // what KVM would have taken through the ioeventfd
  EXPECT_EQ(kicks(), 1u);
}

TEST_F(KernelServedTest, TheKernelStartsAfterDriverOkAndItsCallsBecomeInterrupts) {
  ASSERT_TRUE(wait_for(log.starts, 1));
  int before = irq->count.load();
  uint64_t one = 1;
  ASSERT_EQ(::write(call_fd, &one, sizeof one), ssize_t(sizeof one));
  ASSERT_TRUE(irq->wait_at_least(before + 1));
  // virtio-mmio drivers read InterruptStatus first: the used-buffer bit must be there.
  EXPECT_TRUE(drv.r32(reg::kInterruptStatus) & kInterruptUsedBuffer);
  drv.w32(reg::kInterruptAck, kInterruptUsedBuffer);
  EXPECT_EQ(drv.r32(reg::kInterruptStatus), 0u);
}

TEST_F(KernelServedTest, AResetStopsTheKernelOnTheDeviceThreadBeforeItReturns) {
  ASSERT_TRUE(wait_for(log.starts, 1));
  drv.w32(reg::kStatus, 0);
  EXPECT_EQ(log.drains.load(), 1) << "the kernel still ran when the reset returned";
  EXPECT_TRUE(log.drained_off_caller.load()) << "stopped on the vCPU thread, not the device thread";
  EXPECT_GE(log.resets.load(), 1);
  // No restart without a new DRIVER_OK, even when the device thread wakes.
  uint64_t one = 1;
  ASSERT_EQ(::write(call_fd, &one, sizeof one), ssize_t(sizeof one));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(log.starts.load(), 1);
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  EXPECT_TRUE(wait_for(log.starts, 2));
}

TEST_F(KernelServedTest, APauseStopsTheKernelAndResumeStartsItAgain) {
  ASSERT_TRUE(wait_for(log.starts, 1));
  ASSERT_TRUE(drv.dev().pause());
  EXPECT_EQ(log.drains.load(), 1);
  EXPECT_TRUE(log.drained_off_caller.load());
  ASSERT_TRUE(drv.dev().resume());
  EXPECT_TRUE(wait_for(log.starts, 2));
}

// vhost-net's snapshot path: the transport's own Virtqueue never walked a kernel-served ring, so
// the saved position is the kernel's (its next available index, the used index it published), and
// a restored device is handed the saved positions to start its kernel there.
TEST_F(KernelServedTest, ASnapshotSavesTheKernelsRingPositionsAndARestoreHandsThemBack) {
  ASSERT_TRUE(wait_for(log.starts, 1));
  log.kernel_avail = 7;
  ASSERT_TRUE(mem.write_obj<uint16_t>(kUsed + 2, 5));  // the kernel published 5 used elements
  ASSERT_TRUE(drv.dev().pause());
  auto st = drv.dev().save_state();
  ASSERT_TRUE(st) << st.error().to_string();
  ASSERT_EQ(st->queues.size(), 1u);
  EXPECT_EQ(st->queues[0].next_avail, 7);
  EXPECT_EQ(st->queues[0].next_used, 5);
  EXPECT_EQ(st->queues[0].signalled_used, 5);

  KernelLog log2;
  auto kick = EventFd::create(0, EFD_NONBLOCK);
  auto call = EventFd::create(0, EFD_NONBLOCK);
  ASSERT_TRUE(kick && call);
  auto fresh = MmioTransport::create(std::make_unique<FakeKernelLogic>(&log2, std::move(*kick), std::move(*call)),
                                     DeviceContext{&mem, irq, kMmioBase, {}}, 64);
  ASSERT_TRUE(fresh);
  ASSERT_TRUE((*fresh)->restore_state(*st));
  EXPECT_EQ(log2.restored_avail.load(), 7);
  EXPECT_TRUE(wait_for(log2.starts, 1)) << "the restored device starts its kernel";
}

}  // namespace
}  // namespace vessel::vmm::virtio
