// A token bucket with Firecracker's semantics (its rate_limiter crate, learnt from its docs): `size`
// tokens, refilled continuously at `size` per `refill_time_ms`, never above `size`; plus an initial
// `one_time_burst` that is spent first and never refilled. Time is passed in (nanoseconds on a
// monotonic clock), so the arithmetic is tested without sleeping.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "vmm/api/rate_limiter_config.h"

namespace vessel::vmm {


class TokenBucket {
 public:
  // size and refill_time_ms must be above 0 (Firecracker: a bucket with either 0 is no bucket).
  static Result<TokenBucket> create(const TokenBucketConfig& config, uint64_t now_ns);

  enum class Reduction {
    Success,          // the tokens were taken
    Failure,          // not enough tokens now: nothing taken; retry after wait_ns
    OverConsumption,  // more than `size` asked: all were taken, the budget is 0 and owes the rest;
                      // the caller lets this one through and waits wait_ns before the next
  };
  struct Outcome {
    Reduction reduction;
    uint64_t wait_ns = 0;  // for Failure and OverConsumption: until the bucket can serve again
  };
  Outcome reduce(uint64_t tokens, uint64_t now_ns);
  // Gives back tokens taken for work that was not done after all (never above `size`).
  void give_back(uint64_t tokens);

  uint64_t budget(uint64_t now_ns);
  // What a snapshot keeps of a bucket (docs/vmm/snapshot.md): the tokens and the one-time burst
  // left, refilled to `now_ns`. set_level() puts a saved one into a bucket of the same
  // configuration, clamped to its size and burst, refilling from `now_ns` on (a debt is forgiven).
  struct Level {
    uint64_t budget = 0, burst = 0;
  };
  Level level(uint64_t now_ns) const;
  void set_level(const Level& level, uint64_t now_ns);
  uint64_t one_time_burst() const { return burst_; }
  const TokenBucketConfig& config() const { return config_; }

 private:
  TokenBucket(const TokenBucketConfig& config, uint64_t now_ns);
  void refill(uint64_t now_ns);
  uint64_t time_for(uint64_t tokens) const;  // ns to refill `tokens`, rounded up

  TokenBucketConfig config_;
  uint64_t budget_ = 0;
  uint64_t burst_ = 0;
  uint64_t debt_ = 0;          // tokens taken beyond the budget by an over-consumption
  uint64_t last_ns_ = 0;       // refill accounted up to here
};

}  // namespace vessel::vmm
