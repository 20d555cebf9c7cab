#include "daemon/policy/sim_trace.h"

#include <algorithm>
#include <cmath>

#include "base/json.h"

namespace vessel::daemon {

namespace {

constexpr size_t kMaxTraceBytes = 16 << 20;
constexpr double kMaxCpus = 4096;
constexpr uint64_t kMaxMib = uint64_t{1} << 30;

Result<std::optional<double>> opt_cpus(const json::Json& o, const std::string& where, const char* key) {
  if (!o.contains(key)) return std::optional<double>();
  const auto& v = o[key];
  if (!v.is_number()) return fail(EINVAL, "{}.{}: expected a number, got {}", where, key, json::type_name(v));
  double d = v.get<double>();
  if (!(std::isfinite(d) && d >= 0 && d <= kMaxCpus)) return fail(EINVAL, "{}.{}: {} is outside 0..{}", where, key, d, kMaxCpus);
  return std::optional<double>(d);
}

Result<std::optional<uint64_t>> opt_mib(const json::Json& o, const std::string& where, const char* key) {
  auto v = TRY(json::opt_uint(o, where, key));
  if (v && *v > kMaxMib) return fail(EINVAL, "{}.{}: {} MiB is more than {}", where, key, *v, kMaxMib);
  return v;
}

// CPUs and MiB given as two fields (`cpus_key`, `mib_key`): none when neither is there.
Result<std::optional<Resources>> opt_resources(const json::Json& o, const std::string& where, const char* cpus_key,
                                               const char* mib_key) {
  auto cpus = TRY(opt_cpus(o, where, cpus_key));
  auto mib = TRY(opt_mib(o, where, mib_key));
  if (!cpus && !mib) return std::optional<Resources>();
  return std::optional<Resources>(Resources{cpus.value_or(0), mib.value_or(0) << 20});
}

Result<PoolShape> parse_pool(const json::Json& j) {
  if (!j.is_object()) return fail(EINVAL, "trace.pool: expected an object");
  TRY(json::reject_unknown(j, "trace.pool", {"cpus", "memory_mib", "policy", "hard"}));
  PoolShape pool;
  auto cpus = TRY(opt_cpus(j, "trace.pool", "cpus"));
  if (!cpus || *cpus < 0.01) return fail(EINVAL, "trace.pool.cpus: missing or below 0.01");
  pool.size.cpus = *cpus;
  pool.size.memory_bytes = TRY(opt_mib(j, "trace.pool", "memory_mib")).value_or(0) << 20;
  if (auto p = TRY(json::opt_string(j, "trace.pool", "policy"))) {
    auto kind = parse_policy(*p);
    if (!kind) return fail(EINVAL, "trace.pool.policy: '{}' is not one of {}", *p, kPolicyNames);
    pool.policy = *kind;
  }
  pool.hard = TRY(json::opt_bool(j, "trace.pool", "hard")).value_or(false);
  return pool;
}

Result<void> parse_arrival(const json::Json& e, const std::string& where, TraceEvent& out) {
  TRY(json::reject_unknown(e, where, {"at_ms", "arrive", "share", "priority", "demand_cpus", "demand_mib", "sla_cpus",
                                      "quota_cpus", "quota_mib", "min_cpus", "min_mib", "max_cpus", "max_mib", "memory_mib"}));
  PoolMember& m = out.member;
  m.name = TRY(json::get_string(e, where, "arrive"));
  if (e.contains("share")) {
    if (!e["share"].is_number()) return fail(EINVAL, "{}.share: expected a number", where);
    m.share = e["share"].get<double>();
    if (!(std::isfinite(m.share) && m.share > 0 && m.share <= 10000)) return fail(EINVAL, "{}.share: {} is outside (0, 10000]", where, m.share);
  }
  if (e.contains("priority")) {
    if (!e["priority"].is_number_integer()) return fail(EINVAL, "{}.priority: expected an integer", where);
    auto p = e["priority"].get<int64_t>();
    if (p < -1000 || p > 1000) return fail(EINVAL, "{}.priority: {} is outside -1000..1000", where, p);
    m.priority = static_cast<int>(p);
  }
  m.quota = TRY(opt_resources(e, where, "quota_cpus", "quota_mib")).value_or(Resources{});
  m.min = TRY(opt_resources(e, where, "min_cpus", "min_mib")).value_or(Resources{});
  m.max = TRY(opt_resources(e, where, "max_cpus", "max_mib"));
  m.demand = TRY(opt_resources(e, where, "demand_cpus", "demand_mib"));
  if (auto mib = TRY(opt_mib(e, where, "memory_mib")); mib && m.quota.memory_bytes == 0) m.quota.memory_bytes = *mib << 20;
  out.sla_cpus = TRY(opt_cpus(e, where, "sla_cpus"));
  return {};
}

Result<TraceEvent> parse_event(const json::Json& e, size_t index) {
  std::string where = fmt::format("trace.events[{}]", index);
  if (!e.is_object()) return fail(EINVAL, "{}: expected an object", where);
  TraceEvent out;
  auto at = TRY(json::opt_uint(e, where, "at_ms"));
  if (!at) return fail(EINVAL, "{}.at_ms: missing", where);
  out.at_ms = *at;
  int kinds = e.contains("arrive") + e.contains("demand") + e.contains("leave");
  if (kinds != 1) return fail(EINVAL, "{}: exactly one of arrive, demand and leave", where);
  if (e.contains("arrive")) {
    out.kind = TraceEvent::Kind::Arrive;
    TRY(parse_arrival(e, where, out));
  } else if (e.contains("demand")) {
    out.kind = TraceEvent::Kind::Demand;
    TRY(json::reject_unknown(e, where, {"at_ms", "demand", "demand_cpus", "demand_mib"}));
    out.member.name = TRY(json::get_string(e, where, "demand"));
    out.member.demand = TRY(opt_resources(e, where, "demand_cpus", "demand_mib"));
    if (!out.member.demand) return fail(EINVAL, "{}: a demand event needs demand_cpus or demand_mib", where);
  } else {
    out.kind = TraceEvent::Kind::Leave;
    TRY(json::reject_unknown(e, where, {"at_ms", "leave"}));
    out.member.name = TRY(json::get_string(e, where, "leave"));
  }
  if (out.member.name.empty() || out.member.name.size() > 128) return fail(EINVAL, "{}: a name of 1 to 128 characters", where);
  return out;
}

}  // namespace

Result<Trace> parse_trace(std::string_view text) {
  auto j = TRY_CTX(json::parse(text, kMaxTraceBytes), "trace");
  if (!j.is_object()) return fail(EINVAL, "trace: expected an object");
  TRY(json::reject_unknown(j, "trace", {"pool", "step_ms", "duration_ms", "gain", "events"}));
  Trace t;
  if (!j.contains("pool")) return fail(EINVAL, "trace.pool: missing");
  t.pool = TRY(parse_pool(j["pool"]));
  t.step_ms = TRY(json::opt_uint(j, "trace", "step_ms")).value_or(100);
  if (t.step_ms < 1 || t.step_ms > 3600000) return fail(EINVAL, "trace.step_ms: {} is outside 1..3600000", t.step_ms);
  if (auto gain = TRY(opt_cpus(j, "trace", "gain"))) {
    if (*gain <= 0 || *gain > 1) return fail(EINVAL, "trace.gain: {} is outside (0, 1]", *gain);
    t.tuning.gain = *gain;
  }
  if (!j.contains("events") || !j["events"].is_array()) return fail(EINVAL, "trace.events: expected an array");
  if (j["events"].size() > kMaxTraceEvents) return fail(E2BIG, "trace.events: more than {}", kMaxTraceEvents);
  for (size_t i = 0; i < j["events"].size(); ++i) t.events.push_back(TRY(parse_event(j["events"][i], i)));
  std::stable_sort(t.events.begin(), t.events.end(), [](const auto& a, const auto& b) { return a.at_ms < b.at_ms; });
  uint64_t last = t.events.empty() ? 0 : t.events.back().at_ms;
  t.duration_ms = TRY(json::opt_uint(j, "trace", "duration_ms")).value_or(last + t.step_ms);
  if (t.duration_ms / t.step_ms > kMaxTraceSteps)
    return fail(E2BIG, "trace: {} ms in steps of {} ms is more than {} steps", t.duration_ms, t.step_ms, kMaxTraceSteps);
  return t;
}

}  // namespace vessel::daemon
