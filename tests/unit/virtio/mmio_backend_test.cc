// A device whose host side produces work on its own (a tap, vsock's sockets): the transport's
// device thread wakes on the backend fd without any doorbell, and leaves the fd alone while the
// device does not want it (no buffers), so a readable backend cannot spin the thread.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "fake_driver.h"

namespace vessel::vmm::virtio {
namespace {

using namespace testing;

// Moves one byte from a pipe into each device-writable chain; starved when a byte came and the
// ring was empty.
class PipeLogic final : public DeviceLogic {
 public:
  PipeLogic(const GuestMemory* memory, int read_fd, std::atomic<int>* process_calls)
      : memory_(memory), fd_(read_fd), calls_(process_calls) {}
  const char* name() const override { return "pipe-test"; }
  uint32_t device_type() const override { return 4; }
  uint64_t features() const override { return kFeatureVersion1; }
  uint16_t num_queues() const override { return 1; }
  uint16_t max_queue_size() const override { return 256; }
  void read_config(uint64_t, std::span<uint8_t> data) const override {
    std::fill(data.begin(), data.end(), 0);
  }
  void activate(uint64_t) override {}
  int backend_fd() const override { return fd_; }
  bool backend_wanted() const override { return !starved_; }

  QueueResult<size_t> process(uint16_t, Virtqueue& queue, size_t budget, DeviceCounters&) override {
    (*calls_)++;
    starved_ = false;
    size_t done = 0;
    while (done < budget) {
      uint8_t byte = 0;
      if (::read(fd_, &byte, 1) != 1) break;  // O_NONBLOCK: nothing more from the backend
      auto popped = queue.pop();
      if (!popped) return tl::unexpected<QueueFault>(popped.error());
      if (!*popped) {
        starved_ = true;  // the byte is lost: a fake backend need not keep it
        break;
      }
      auto& [head, chain] = **popped;
      if (chain) (void)memory_->write_obj<uint8_t>(chain->descriptors[0].addr, byte);
      (void)queue.complete(head, 1);
      ++done;
    }
    return done;
  }
  void add_metrics(json::Json&) const override {}

 private:
  const GuestMemory* memory_;
  int fd_;
  std::atomic<int>* calls_;
  bool starved_ = false;
};

class MmioBackendTest : public ::testing::Test {
 protected:
  GuestMemory mem = make_memory();
  std::shared_ptr<CountingIrq> irq = std::make_shared<CountingIrq>();
  FakeDriver drv{mem};
  int pipe_fds[2] = {-1, -1};
  std::atomic<int> process_calls{0};

  void SetUp() override {
    ASSERT_EQ(pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC), 0);
    auto logic = std::make_unique<PipeLogic>(&mem, pipe_fds[0], &process_calls);
    auto dev = MmioTransport::create(std::move(logic), DeviceContext{&mem, irq, kMmioBase + 0x1000, {}}, 64);
    ASSERT_TRUE(dev) << dev.error().to_string();
    drv.attach(*dev);
    ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  }
  void TearDown() override {
    drv.attach(nullptr);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
  }
  void backend_sends(uint8_t byte) { ASSERT_EQ(::write(pipe_fds[1], &byte, 1), 1); }
};

TEST_F(MmioBackendTest, BackendDataIsServedWithoutADoorbell) {
  drv.set_desc(0, kData, 16, kDescFlagWrite);
  drv.submit(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(drv.used_idx(), 0) << "completed before the backend had data";
  backend_sends(0x5a);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(*mem.read_obj<uint8_t>(kData), 0x5a);
}

TEST_F(MmioBackendTest, AReadableBackendWithoutBuffersDoesNotSpinTheThread) {
  backend_sends(1);
  backend_sends(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // One wake for the data, then the starved device stops polling the still-readable pipe.
  EXPECT_LE(process_calls.load(), 3) << "the device thread spun on a backend it could not serve";
  drv.set_desc(0, kData, 16, kDescFlagWrite);
  drv.submit(0);  // the doorbell re-arms the backend
  ASSERT_TRUE(drv.wait_used(1));
  drv.set_desc(1, kData + 16, 16, kDescFlagWrite);
  drv.submit(1, /*notify=*/false);
  backend_sends(3);  // wakes the thread through the backend, which serves the waiting byte
  ASSERT_TRUE(drv.wait_used(1));
}

}  // namespace
}  // namespace vessel::vmm::virtio
