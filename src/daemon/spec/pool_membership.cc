#include "daemon/spec/pool_membership.h"

#include <cmath>

#include "daemon/spec/spec.h"

namespace vessel::daemon {

Result<PoolMembership> parse_pool_membership(const json::Json& j) {
  if (!j.is_object()) return fail(EINVAL, "spec.pool: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "spec.pool", {"name", "share", "priority", "best_effort"}));
  PoolMembership m;
  m.pool = TRY(json::get_string(j, "spec.pool", "name"));
  TRY_CTX(validate_name(m.pool), "spec.pool.name");
  if (j.contains("share")) {
    const auto& s = j["share"];
    if (!s.is_number()) return fail(EINVAL, "spec.pool.share: expected a number, got {}", json::type_name(s));
    m.share = s.get<double>();
    if (!(std::isfinite(m.share) && m.share > 0 && m.share <= kMaxShare))
      return fail(EINVAL, "spec.pool.share: {} is outside (0, {}]", m.share, kMaxShare);
  }
  if (j.contains("priority")) {
    const auto& p = j["priority"];
    if (!p.is_number_integer()) return fail(EINVAL, "spec.pool.priority: expected an integer, got {}", json::type_name(p));
    auto v = p.get<int64_t>();
    if (v < -kMaxPriority || v > kMaxPriority)
      return fail(EINVAL, "spec.pool.priority: {} is outside -{}..{}", v, kMaxPriority, kMaxPriority);
    m.priority = static_cast<int>(v);
  }
  if (auto best_effort = TRY(json::opt_bool(j, "spec.pool", "best_effort"))) m.best_effort = *best_effort;
  return m;
}

json::Json to_json(const PoolMembership& m) {
  json::Json j = {{"name", m.pool}, {"share", m.share}, {"priority", m.priority}};
  if (m.best_effort) j["best_effort"] = true;
  return j;
}

}  // namespace vessel::daemon
