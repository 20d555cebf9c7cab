#include "vmm/rate_limiter/rate_limiter.h"

namespace vessel::vmm {

namespace {

std::optional<TokenBucket> make(const std::optional<TokenBucketConfig>& c, uint64_t now_ns) {
  if (!c) return std::nullopt;
  auto b = TokenBucket::create(*c, now_ns);
  return b ? std::optional<TokenBucket>(std::move(*b)) : std::nullopt;  // parse_bucket let no invalid one through
}

}  // namespace

RateLimiter::RateLimiter(const RateLimiterConfig& config, uint64_t now_ns)
    : bandwidth_(make(config.bandwidth, now_ns)), ops_(make(config.ops, now_ns)) {}

void RateLimiter::update(const RateLimiterConfig& config, uint64_t now_ns) {
  bandwidth_ = make(config.bandwidth, now_ns);
  ops_ = make(config.ops, now_ns);
  blocked_until_ns_ = 0;
}

RateLimiter::Levels RateLimiter::levels(uint64_t now_ns) const {
  Levels l;
  if (bandwidth_) l.bandwidth = bandwidth_->level(now_ns);
  if (ops_) l.ops = ops_->level(now_ns);
  return l;
}

void RateLimiter::set_levels(const Levels& levels, uint64_t now_ns) {
  if (bandwidth_ && levels.bandwidth) bandwidth_->set_level(*levels.bandwidth, now_ns);
  if (ops_ && levels.ops) ops_->set_level(*levels.ops, now_ns);
  blocked_until_ns_ = 0;
}

bool RateLimiter::consume(uint64_t bytes, uint64_t now_ns) {
  if (blocked(now_ns)) return false;
  using R = TokenBucket::Reduction;
  if (ops_) {
    auto op = ops_->reduce(1, now_ns);
    if (op.reduction == R::Failure) {
      blocked_until_ns_ = now_ns + op.wait_ns;
      return false;
    }
  }
  if (bandwidth_) {
    auto bw = bandwidth_->reduce(bytes, now_ns);
    if (bw.reduction == R::Failure) {
      if (ops_) ops_->give_back(1);
      blocked_until_ns_ = now_ns + bw.wait_ns;
      return false;
    }
    if (bw.reduction == R::OverConsumption) blocked_until_ns_ = now_ns + bw.wait_ns;
  }
  return true;
}

}  // namespace vessel::vmm
