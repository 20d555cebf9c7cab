// Which backend a virtio-net device gets (auto/on/off, rate limiters, /dev/vhost-net opening or
// not) and the features it offers and acks with vhost-net: pure functions, no /dev/vhost-net.
#include <gtest/gtest.h>

#include "vmm/devices/virtio/net/backend_choice.h"
#include "vmm/devices/virtio/net/virtio_net.h"

namespace vessel::vmm::virtio::net {
namespace {

struct Opener {
  bool works;
  int calls = 0;
  std::function<Result<void>()> fn() {
    return [this]() -> Result<void> {
      ++calls;
      if (works) return {};
      return fail(ENOENT, "open /dev/vhost-net");
    };
  }
};

TEST(NetBackend, AutoTakesVhostWhenItOpensAndNoLimiterIsSet) {
  Opener ok{true};
  auto c = choose_backend(VhostMode::Auto, false, ok.fn());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->backend, NetBackend::Vhost);
  EXPECT_EQ(ok.calls, 1);
}

TEST(NetBackend, AutoFallsBackToUserspaceWithTheReason) {
  Opener missing{false};
  auto c = choose_backend(VhostMode::Auto, false, missing.fn());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->backend, NetBackend::Userspace);
  EXPECT_NE(c->reason.find("/dev/vhost-net"), std::string::npos) << c->reason;
  Opener ok{true};
  auto limited = choose_backend(VhostMode::Auto, true, ok.fn());
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->backend, NetBackend::Userspace);
  EXPECT_NE(limited->reason.find("rate limiter"), std::string::npos);
  EXPECT_EQ(ok.calls, 0) << "a limiter decides without opening the device";
}

TEST(NetBackend, OnIsVhostOrAClearError) {
  Opener ok{true}, missing{false};
  auto c = choose_backend(VhostMode::On, false, ok.fn());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->backend, NetBackend::Vhost);
  auto absent = choose_backend(VhostMode::On, false, missing.fn());
  ASSERT_FALSE(absent);
  EXPECT_NE(absent.error().to_string().find("vhost is on"), std::string::npos)
      << absent.error().to_string();
  EXPECT_NE(absent.error().to_string().find("/dev/vhost-net"), std::string::npos);
  auto limited = choose_backend(VhostMode::On, true, ok.fn());
  ASSERT_FALSE(limited);
  EXPECT_NE(limited.error().to_string().find("rate_limiter"), std::string::npos);
}

TEST(NetBackend, OffNeverOpensTheDevice) {
  Opener ok{true};
  auto c = choose_backend(VhostMode::Off, false, ok.fn());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->backend, NetBackend::Userspace);
  EXPECT_EQ(ok.calls, 0);
}

TEST(NetBackend, OfferedFeaturesFollowWhatTheKernelServes) {
  // A kernel with every ring feature: vhost offers exactly what the userspace path offers.
  uint64_t full = kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kFeatureMrgRxbuf |
                  kVhostNetFVirtioNetHdr | (1ull << 24);
  EXPECT_EQ(vhost_offered_features(full), kNetFeatures);
  // Without EVENT_IDX and MRG_RXBUF in the kernel, they are not offered; the tap's features stay.
  uint64_t some = kFeatureVersion1 | kFeatureIndirectDesc;
  uint64_t offered = vhost_offered_features(some);
  EXPECT_FALSE(offered & kFeatureEventIdx);
  EXPECT_FALSE(offered & kFeatureMrgRxbuf);
  EXPECT_TRUE(offered & kFeatureGuestTso4);
  EXPECT_TRUE(offered & kFeatureMac);
  EXPECT_FALSE(offered & kVhostNetFVirtioNetHdr) << "the tap adds and strips the header, not vhost";
}

TEST(NetBackend, AckedFeaturesAreTheDriversThatTheKernelKnows) {
  uint64_t kernel = kFeatureVersion1 | kFeatureEventIdx | kFeatureMrgRxbuf | kVhostNetFVirtioNetHdr;
  uint64_t driver = kFeatureVersion1 | kFeatureMrgRxbuf | kFeatureGuestCsum | kFeatureMac;
  EXPECT_EQ(vhost_acked_features(driver, kernel), kFeatureVersion1 | kFeatureMrgRxbuf);
  EXPECT_EQ(vhost_acked_features(driver | kVhostNetFVirtioNetHdr, kernel) & kVhostNetFVirtioNetHdr,
            0u);
}

}  // namespace
}  // namespace vessel::vmm::virtio::net
