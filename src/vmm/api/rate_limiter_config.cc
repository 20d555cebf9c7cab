#include "vmm/api/rate_limiter_config.h"

namespace vessel::vmm {

namespace {

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

json::Json bucket_json(const TokenBucketConfig& b) {
  return {{"size", b.size}, {"one_time_burst", b.one_time_burst}, {"refill_time", b.refill_time_ms}};
}

}  // namespace

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

Result<RateLimiterPatch> parse_rate_limiter_patch(const json::Json& j, std::string_view where) {
  RateLimiterPatch p;
  p.values = TRY(parse_rate_limiter(j, where));
  p.has_bandwidth = j.contains("bandwidth");
  p.has_ops = j.contains("ops");
  return p;
}

std::optional<RateLimiterConfig> apply_patch(const RateLimiterPatch& patch, const std::optional<RateLimiterConfig>& old) {
  RateLimiterConfig c = old.value_or(RateLimiterConfig{});
  if (patch.has_bandwidth) c.bandwidth = patch.values.bandwidth;
  if (patch.has_ops) c.ops = patch.values.ops;
  if (!c.bandwidth && !c.ops) return std::nullopt;
  return c;
}

}  // namespace vessel::vmm
