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

}  // namespace vessel::vmm
