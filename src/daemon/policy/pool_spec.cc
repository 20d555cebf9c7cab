#include "daemon/policy/pool_spec.h"

#include <cmath>

#include "daemon/spec/spec.h"

namespace vessel::daemon {

namespace {

Result<void> parse_fields(const json::Json& body, PoolSpec& s) {
  if (body.contains("cpus")) {
    const auto& c = body["cpus"];
    if (!c.is_number()) return fail(EINVAL, "pool.cpus: expected a number, got {}", json::type_name(c));
    double v = c.get<double>();
    if (!(std::isfinite(v) && v >= 0.01 && v <= kMaxPoolCpus)) return fail(EINVAL, "pool.cpus: {} is outside 0.01..{}", v, kMaxPoolCpus);
    s.cpus = v;
  }
  if (body.contains("memory_mib")) {
    const auto& m = body["memory_mib"];
    if (!m.is_number_unsigned()) return fail(EINVAL, "pool.memory_mib: expected a positive integer, got {}", m.dump());
    auto v = m.get<uint64_t>();
    if (v < 4 || v > kMaxPoolMemoryMib) return fail(EINVAL, "pool.memory_mib: {} is outside 4..{}", v, kMaxPoolMemoryMib);
    s.memory_mib = v;
  }
  if (auto policy = TRY(json::opt_string(body, "pool", "policy"))) {
    auto p = parse_policy(*policy);
    if (!p) return fail(EINVAL, "pool.policy: '{}' is not one of {}", *policy, kPolicyNames);
    s.policy = *p;
  }
  if (auto hard = TRY(json::opt_bool(body, "pool", "hard"))) s.hard = *hard;
  if (auto cpuset = TRY(json::opt_string(body, "pool", "cpuset"))) {
    if (cpuset->size() > 256 || cpuset->find_first_not_of("0123456789,-") != std::string::npos)
      return fail(EINVAL, "pool.cpuset: '{}' is not a list of CPUs such as 0-1,3", *cpuset);
    s.cpuset = *cpuset;
  }
  if (body.contains("round_ms")) {
    const auto& r = body["round_ms"];
    if (!r.is_number_unsigned() || r.get<uint64_t>() < kMinRoundMs || r.get<uint64_t>() > kMaxRoundMs)
      return fail(EINVAL, "pool.round_ms: {} is not a whole number of ms in {}..{}", r.dump(), kMinRoundMs, kMaxRoundMs);
    s.round_ms = r.get<uint64_t>();
  }
  if (auto action = TRY(json::opt_string(body, "pool", "on_shortage"))) {
    auto a = parse_shortage_action(*action);
    if (!a) return fail(EINVAL, "pool.on_shortage: '{}' is not one of {}", *action, kShortageActionNames);
    s.on_shortage = *a;
  }
  if (s.on_shortage != ShortageAction::None && s.policy != PolicyKind::Priority)
    return fail(EINVAL, "pool.on_shortage: {} is for priority pools (the lowest priority goes first); this one is {}",
                to_string(s.on_shortage), to_string(s.policy));
  // The turns carry a timeslice pool's CPU: a quota (--hard) would cap the member holding them.
  if (s.policy == PolicyKind::Timeslice && s.hard)
    return fail(EINVAL, "pool.hard: a timeslice pool carries its CPUs by turns; --hard is for proportional and demand");
  return {};
}

}  // namespace

Result<PoolSpec> parse_pool_spec(const json::Json& body) {
  if (!body.is_object()) return fail(EINVAL, "pool: expected an object, got {}", json::type_name(body));
  TRY(json::reject_unknown(body, "pool", {"name", "cpus", "memory_mib", "policy", "hard", "cpuset", "round_ms", "on_shortage"}));
  PoolSpec s;
  s.name = TRY(json::get_string(body, "pool", "name"));
  TRY_CTX(validate_name(s.name), "pool.name");
  if (!body.contains("cpus")) return fail(EINVAL, "pool.cpus: missing (the pool's size in CPUs)");
  if (!body.contains("memory_mib")) return fail(EINVAL, "pool.memory_mib: missing (the pool's size in MiB)");
  TRY(parse_fields(body, s));
  return s;
}

Result<PoolSpec> parse_pool_spec_text(std::string_view text) {
  auto j = TRY_CTX(json::parse(text, 1 << 16), "pool");
  return parse_pool_spec(j);
}

Result<PoolSpec> parse_pool_update(const json::Json& body, PoolSpec current) {
  if (!body.is_object()) return fail(EINVAL, "pool: expected an object, got {}", json::type_name(body));
  TRY(json::reject_unknown(body, "pool", {"cpus", "memory_mib", "policy", "hard", "cpuset", "round_ms", "on_shortage"}));
  TRY(parse_fields(body, current));
  return current;
}

json::Json to_json(const PoolSpec& s) {
  return {{"name", s.name}, {"cpus", s.cpus}, {"memory_mib", s.memory_mib}, {"policy", std::string(to_string(s.policy))},
          {"hard", s.hard}, {"cpuset", s.cpuset}, {"round_ms", s.round_ms},
          {"on_shortage", std::string(to_string(s.on_shortage))}};
}

}  // namespace vessel::daemon
