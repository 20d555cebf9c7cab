// Firecracker's `rate_limiter` object as configuration (drives and, later, network interfaces):
// a bandwidth bucket (bytes) and an ops bucket (requests), each {size, one_time_burst, refill_time}.
// Shared with vesseld like vm_config.h; the buckets themselves are in vmm/rate_limiter/.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/error.h"
#include "base/json.h"

namespace vessel::vmm {

struct TokenBucketConfig {
  uint64_t size = 0;            // tokens (bytes or operations) the bucket holds
  uint64_t one_time_burst = 0;  // extra tokens at the start, spent first, never refilled
  uint64_t refill_time_ms = 0;  // time to refill `size` tokens from empty
  bool operator==(const TokenBucketConfig&) const = default;
};

struct RateLimiterConfig {
  std::optional<TokenBucketConfig> bandwidth;  // bytes
  std::optional<TokenBucketConfig> ops;        // requests
  bool operator==(const RateLimiterConfig&) const = default;
};

// {"bandwidth": {"size", "one_time_burst", "refill_time"}, "ops": {...}}, Firecracker's shape:
// refill_time in milliseconds; a bucket with size 0 or refill_time 0 limits nothing (none).
Result<RateLimiterConfig> parse_rate_limiter(const json::Json& j, std::string_view where);
json::Json to_json(const RateLimiterConfig& config);

// A PATCH of a running device's limiter, Firecracker's semantics: a bucket the body names is
// replaced (size 0 or refill_time 0: removed), a bucket it leaves out stays as it is.
struct RateLimiterPatch {
  bool has_bandwidth = false, has_ops = false;
  RateLimiterConfig values;
};
Result<RateLimiterPatch> parse_rate_limiter_patch(const json::Json& j, std::string_view where);
// The limiter after the patch; none when no bucket is left.
std::optional<RateLimiterConfig> apply_patch(const RateLimiterPatch& patch, const std::optional<RateLimiterConfig>& old);

}  // namespace vessel::vmm
