// virtio-rng fills device-writable buffers with random bytes, bounded per request.
#include <gtest/gtest.h>

#include "fake_driver.h"

namespace vessel::vmm::virtio {
namespace {

using namespace testing;

TEST(RngDeviceTest, ReturnsRandomBytes) {
  GuestMemory mem = make_memory();
  auto irq = std::make_shared<CountingIrq>();
  auto dev = create_rng(DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_TRUE(dev) << dev.error().to_string();
  FakeDriver drv(mem);
  drv.attach(*dev);
  EXPECT_EQ(drv.r32(reg::kDeviceId), 4u);
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  drv.set_desc(0, kData, 256, kDescFlagWrite);
  drv.set_desc(1, kData + 4096, 256, kDescFlagWrite);
  drv.submit(0);
  drv.submit(1);
  ASSERT_TRUE(drv.wait_used(2));
  EXPECT_EQ(drv.used(0).second, 256u);
  EXPECT_EQ(drv.used(1).second, 256u);
  std::string a(256, 0), b(256, 0);
  ASSERT_TRUE(mem.read(kData, a.data(), 256));
  ASSERT_TRUE(mem.read(kData + 4096, b.data(), 256));
  EXPECT_NE(a, std::string(256, 0));
  EXPECT_NE(a, b);
  auto m = drv.dev().metrics();
  EXPECT_EQ(m["device"], "virtio-rng");
  EXPECT_EQ(m["bytes"], 512);
  EXPECT_TRUE(irq->wait_at_least(1));
}

TEST(RngDeviceTest, LargeRequestIsCapped) {
  GuestMemory mem = make_memory();
  auto dev = create_rng(DeviceContext{&mem, std::make_shared<CountingIrq>(), kMmioBase, {}});
  ASSERT_TRUE(dev);
  FakeDriver drv(mem);
  drv.attach(*dev);
  ASSERT_TRUE(drv.init(~0ull) & status::kDriverOk);
  drv.set_desc(0, kData, 4 << 20, kDescFlagWrite);
  drv.submit(0);
  ASSERT_TRUE(drv.wait_used(1));
  EXPECT_EQ(drv.used(0).second, 64u * 1024);
}

}  // namespace
}  // namespace vessel::vmm::virtio
