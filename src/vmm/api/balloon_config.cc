#include "vmm/api/balloon_config.h"

namespace vessel::vmm {

using json::Json;

namespace {

Result<uint32_t> bounded_uint(const Json& j, std::string_view where, const char* key, uint32_t max) {
  uint64_t v = TRY(json::get_uint(j, where, key));
  if (v > max) return fail(EINVAL, "{}.{}: {} is above the maximum {}", where, key, v, max);
  return static_cast<uint32_t>(v);
}

}  // namespace

Json to_json(const BalloonConfig& b) {
  Json j{{"amount_mib", b.amount_mib},
         {"deflate_on_oom", b.deflate_on_oom},
         {"stats_polling_interval_s", b.stats_polling_interval_s}};
  if (b.free_page_reporting) j["free_page_reporting"] = true;
  return j;
}

Result<BalloonConfig> parse_balloon(const Json& j) {
  if (!j.is_object()) return fail(EINVAL, "balloon: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "balloon",
                           {"amount_mib", "deflate_on_oom", "stats_polling_interval_s", "free_page_reporting"}));
  BalloonConfig b;
  b.amount_mib = TRY(bounded_uint(j, "balloon", "amount_mib", kMaxBalloonMib));
  b.deflate_on_oom = TRY(json::get_bool(j, "balloon", "deflate_on_oom"));
  if (j.contains("stats_polling_interval_s"))
    b.stats_polling_interval_s = TRY(bounded_uint(j, "balloon", "stats_polling_interval_s", kMaxStatsPollingIntervalS));
  if (auto r = TRY(json::opt_bool(j, "balloon", "free_page_reporting"))) b.free_page_reporting = *r;
  return b;
}

Result<uint32_t> parse_balloon_update(const Json& j) {
  if (!j.is_object()) return fail(EINVAL, "balloon: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "balloon", {"amount_mib"}));
  return bounded_uint(j, "balloon", "amount_mib", kMaxBalloonMib);
}

Result<uint32_t> parse_balloon_stats_update(const Json& j) {
  if (!j.is_object()) return fail(EINVAL, "balloon/statistics: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "balloon/statistics", {"stats_polling_interval_s"}));
  return bounded_uint(j, "balloon/statistics", "stats_polling_interval_s", kMaxStatsPollingIntervalS);
}

Result<void> check_balloon(const BalloonConfig& b, uint64_t mem_size_mib, bool huge_pages) {
  if (b.amount_mib > mem_size_mib)
    return fail(EINVAL, "balloon.amount_mib: {} MiB is more than the guest's {} MiB of RAM", b.amount_mib, mem_size_mib);
  if (huge_pages)
    return fail(ENOTSUP, "balloon: not supported with machine-config huge_pages 2M (4 KiB balloon pages cannot be "
                         "given back out of 2 MiB hugetlbfs pages)");
  return {};
}

}  // namespace vessel::vmm
