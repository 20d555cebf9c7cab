#include "vmm/rate_limiter/token_bucket.h"

#include <algorithm>

namespace vessel::vmm {

namespace {
constexpr uint64_t kNsPerMs = 1'000'000;

// a * b / c without overflowing 64 bits in the product.
uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b / c);
}
}  // namespace

Result<TokenBucket> TokenBucket::create(const TokenBucketConfig& config, uint64_t now_ns) {
  if (config.size == 0) return fail(EINVAL, "a token bucket needs a size above 0");
  if (config.refill_time_ms == 0) return fail(EINVAL, "a token bucket needs a refill_time above 0 ms");
  return TokenBucket(config, now_ns);
}

TokenBucket::TokenBucket(const TokenBucketConfig& config, uint64_t now_ns)
    : config_(config), budget_(config.size), burst_(config.one_time_burst), last_ns_(now_ns) {}

uint64_t TokenBucket::time_for(uint64_t tokens) const {
  unsigned __int128 ns = static_cast<unsigned __int128>(tokens) * config_.refill_time_ms * kNsPerMs;
  return static_cast<uint64_t>((ns + config_.size - 1) / config_.size);
}

// Adds what the elapsed time refilled, paying the debt first. Only whole tokens are added, and
// the clock advances only by the time they took, so no fraction of a token is lost.
void TokenBucket::refill(uint64_t now_ns) {
  if (now_ns <= last_ns_) return;
  uint64_t elapsed = now_ns - last_ns_;
  uint64_t tokens = mul_div(elapsed, config_.size, config_.refill_time_ms * kNsPerMs);
  if (tokens == 0) return;
  last_ns_ += mul_div(tokens, config_.refill_time_ms * kNsPerMs, config_.size);
  uint64_t paid = std::min(tokens, debt_);
  debt_ -= paid;
  tokens -= paid;
  budget_ = std::min(config_.size, budget_ + tokens);
  if (budget_ == config_.size) last_ns_ = now_ns;  // a full bucket does not save up time
}

uint64_t TokenBucket::budget(uint64_t now_ns) {
  refill(now_ns);
  return budget_;
}

TokenBucket::Outcome TokenBucket::reduce(uint64_t tokens, uint64_t now_ns) {
  // The one-time burst pays first; it is kept whole when the rest cannot be paid.
  uint64_t from_burst = std::min(tokens, burst_);
  tokens -= from_burst;
  if (tokens == 0) {
    burst_ -= from_burst;
    return {Reduction::Success};
  }
  refill(now_ns);
  if (debt_ > 0) return {Reduction::Failure, time_for(debt_ + std::min(tokens, config_.size))};
  if (tokens > config_.size) {
    // It can never fit: take all there is, owe the rest, and let it through once.
    burst_ -= from_burst;
    debt_ = tokens - budget_;
    budget_ = 0;
    return {Reduction::OverConsumption, time_for(debt_)};
  }
  if (tokens > budget_) return {Reduction::Failure, time_for(tokens - budget_)};
  burst_ -= from_burst;
  budget_ -= tokens;
  return {Reduction::Success};
}

TokenBucket::Level TokenBucket::level(uint64_t now_ns) const {
  TokenBucket copy = *this;  // refilling is a change; a saved level must not be one
  return {copy.budget(now_ns), copy.burst_};
}

void TokenBucket::set_level(const Level& level, uint64_t now_ns) {
  budget_ = std::min(level.budget, config_.size);
  burst_ = std::min(level.burst, config_.one_time_burst);
  debt_ = 0;
  last_ns_ = now_ns;
}

void TokenBucket::give_back(uint64_t tokens) { budget_ = std::min(config_.size, budget_ + tokens); }

}  // namespace vessel::vmm
