#include "vmm/rate_limiter/rate_limiter.h"

namespace vessel::vmm {

namespace {

bool same(const std::optional<TokenBucketConfig>& a, const std::optional<TokenBucketConfig>& b) {
  if (!a || !b) return !a && !b;
  return a->size == b->size && a->one_time_burst == b->one_time_burst && a->refill_time_ms == b->refill_time_ms;
}

Result<std::optional<TokenBucketConfig>> parse_bucket(const json::Json& j, const std::string& where) {
  if (j.is_null()) return std::optional<TokenBucketConfig>();
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(j));
  TRY(json::reject_unknown(j, where, {"size", "one_time_burst", "refill_time"}));
  TokenBucketConfig b;
  b.size = TRY(json::get_uint(j, where, "size"));
  b.one_time_burst = TRY(json::opt_uint(j, where, "one_time_burst")).value_or(0);
  b.refill_time_ms = TRY(json::get_uint(j, where, "refill_time"));
  if (b.refill_time_ms > 3'600'000) return fail(EINVAL, "{}.refill_time: {} ms is over an hour", where, b.refill_time_ms);
  if (b.size == 0 || b.refill_time_ms == 0) return std::optional<TokenBucketConfig>();
  return std::optional<TokenBucketConfig>(b);
}

std::optional<TokenBucket> make(const std::optional<TokenBucketConfig>& c, uint64_t now_ns) {
  if (!c) return std::nullopt;
  auto b = TokenBucket::create(*c, now_ns);
  return b ? std::optional<TokenBucket>(std::move(*b)) : std::nullopt;  // parse_bucket let no invalid one through
}

json::Json bucket_json(const TokenBucketConfig& b) {
  return {{"size", b.size}, {"one_time_burst", b.one_time_burst}, {"refill_time", b.refill_time_ms}};
}

}  // namespace

bool RateLimiterConfig::operator==(const RateLimiterConfig& o) const {
  return same(bandwidth, o.bandwidth) && same(ops, o.ops);
}

Result<RateLimiterConfig> parse_rate_limiter(const json::Json& j, std::string_view where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(j));
  TRY(json::reject_unknown(j, where, {"bandwidth", "ops"}));
  RateLimiterConfig c;
  if (j.contains("bandwidth")) c.bandwidth = TRY(parse_bucket(j["bandwidth"], std::string(where) + ".bandwidth"));
  if (j.contains("ops")) c.ops = TRY(parse_bucket(j["ops"], std::string(where) + ".ops"));
  return c;
}

json::Json to_json(const RateLimiterConfig& config) {
  json::Json j = json::Json::object();
  if (config.bandwidth) j["bandwidth"] = bucket_json(*config.bandwidth);
  if (config.ops) j["ops"] = bucket_json(*config.ops);
  return j;
}

RateLimiter::RateLimiter(const RateLimiterConfig& config, uint64_t now_ns)
    : bandwidth_(make(config.bandwidth, now_ns)), ops_(make(config.ops, now_ns)) {}

void RateLimiter::update(const RateLimiterConfig& config, uint64_t now_ns) {
  bandwidth_ = make(config.bandwidth, now_ns);
  ops_ = make(config.ops, now_ns);
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
