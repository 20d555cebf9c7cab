// A device's rate limiter, Firecracker's `rate_limiter` object: an optional bandwidth bucket
// (bytes) and an optional ops bucket (requests). A request either passes both or neither; a
// refused one leaves the limiter blocked until wake_at_ns(), when the device retries its queue
// (a timerfd armed at that time). Not thread-safe: one device thread owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/error.h"
#include "vmm/api/rate_limiter_config.h"
#include "vmm/rate_limiter/token_bucket.h"

namespace vessel::vmm {

class RateLimiter {
 public:
  RateLimiter(const RateLimiterConfig& config, uint64_t now_ns);

  // One request of `bytes`: true when it may go now (both buckets paid), false when the device must
  // hold it until wake_at_ns() (nothing taken).
  bool consume(uint64_t bytes, uint64_t now_ns);
  bool blocked(uint64_t now_ns) const { return now_ns < blocked_until_ns_; }
  uint64_t wake_at_ns() const { return blocked_until_ns_; }
  // New buckets, full (PATCH on a running VM); a blocked device is unblocked.
  void update(const RateLimiterConfig& config, uint64_t now_ns);
  // Its buckets' levels for a snapshot, and back (a bucket absent on either side is skipped; a
  // wait in progress is not kept).
  struct Levels {
    std::optional<TokenBucket::Level> bandwidth, ops;
  };
  Levels levels(uint64_t now_ns) const;
  void set_levels(const Levels& levels, uint64_t now_ns);

 private:
  std::optional<TokenBucket> bandwidth_, ops_;
  uint64_t blocked_until_ns_ = 0;
};

}  // namespace vessel::vmm
