#include "daemon/spec/balloon_spec.h"

namespace vessel::daemon {

Result<BalloonSpec> parse_balloon_spec(const json::Json& j) {
  if (!j.is_object()) return fail(EINVAL, "spec.balloon: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "spec.balloon", {"deflate_on_oom", "stats_polling_interval_s", "free_page_reporting"}));
  BalloonSpec b;
  b.deflate_on_oom = TRY(json::opt_bool(j, "spec.balloon", "deflate_on_oom")).value_or(b.deflate_on_oom);
  b.free_page_reporting = TRY(json::opt_bool(j, "spec.balloon", "free_page_reporting")).value_or(b.free_page_reporting);
  if (auto s = TRY(json::opt_uint(j, "spec.balloon", "stats_polling_interval_s"))) {
    // Statistics are what the controller sizes the VM by: they cannot be off.
    if (*s < 1 || *s > kMaxBalloonStatsIntervalS)
      return fail(EINVAL, "spec.balloon.stats_polling_interval_s: {} is outside 1..{}", *s, kMaxBalloonStatsIntervalS);
    b.stats_interval_s = static_cast<uint32_t>(*s);
  }
  return b;
}

json::Json to_json(const BalloonSpec& b) {
  return {{"deflate_on_oom", b.deflate_on_oom},
          {"stats_polling_interval_s", b.stats_interval_s},
          {"free_page_reporting", b.free_page_reporting}};
}

}  // namespace vessel::daemon
