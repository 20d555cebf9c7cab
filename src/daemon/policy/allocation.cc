#include "daemon/policy/allocation.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

namespace vessel::daemon {

namespace {

constexpr double kEps = 1e-9;
constexpr double kMiB = 1024.0 * 1024.0;

// One resource at a time: CPUs and bytes are split by the same rules.
using Get = std::function<double(const Resources&)>;
const Get kCpus = [](const Resources& r) { return r.cpus; };
const Get kBytes = [](const Resources& r) { return static_cast<double>(r.memory_bytes); };

Resources make(double cpus, double bytes) { return {cpus, static_cast<uint64_t>(std::floor(std::max(0.0, bytes) + kEps))}; }

// The member's ceiling: its max, never above the pool.
Resources ceiling(const PoolShape& pool, const PoolMember& m) {
  if (!m.max) return pool.size;
  return {std::min(m.max->cpus, pool.size.cpus), std::min(m.max->memory_bytes, pool.size.memory_bytes)};
}

bool finite_nonneg(double v) { return std::isfinite(v) && v >= 0; }

Result<void> validate(const PoolShape& pool, const std::vector<PoolMember>& members) {
  if (!std::isfinite(pool.size.cpus) || pool.size.cpus <= 0) return fail(EINVAL, "pool.cpus: {} is not > 0", pool.size.cpus);
  if (pool.size.memory_bytes == 0) return fail(EINVAL, "pool.memory: 0 is not > 0");
  std::set<std::string> names;
  for (const auto& m : members) {
    if (m.name.empty()) return fail(EINVAL, "member: no name");
    if (!names.insert(m.name).second) return fail(EINVAL, "member {}: named twice", m.name);
    if (!std::isfinite(m.share) || m.share <= 0) return fail(EINVAL, "member {}: share {} is not > 0", m.name, m.share);
    for (const auto* r : {&m.quota, &m.min})
      if (!finite_nonneg(r->cpus)) return fail(EINVAL, "member {}: a negative or infinite CPU count", m.name);
    for (const auto& r : {m.max, m.demand, m.current})
      if (r && !finite_nonneg(r->cpus)) return fail(EINVAL, "member {}: a negative or infinite CPU count", m.name);
    if (m.max && (m.min.cpus > m.max->cpus + kEps || m.min.memory_bytes > m.max->memory_bytes))
      return fail(EINVAL, "member {}: min ({:.3f} CPUs, {} bytes) is above max ({:.3f} CPUs, {} bytes)", m.name, m.min.cpus,
                  m.min.memory_bytes, m.max->cpus, m.max->memory_bytes);
    if (pool.policy == PolicyKind::Fixed && (m.quota.cpus <= 0 || m.quota.memory_bytes == 0))
      return fail(EINVAL, "member {}: a fixed pool needs a quota of CPUs and memory", m.name);
  }
  return {};
}

// EAGAIN with the numbers when `used` (+ `wanted`) exceeds the pool, for `what` (quotas, mins).
Result<void> fits(const PoolShape& pool, const char* what, Resources used, std::optional<Resources> wanted) {
  Resources w = wanted.value_or(Resources{});
  if (used.cpus + w.cpus > pool.size.cpus + kEps) {
    if (wanted)
      return fail(EAGAIN, "pool full: {} {:.3f} CPUs given + {:.3f} wanted > {:.3f} CPUs in the pool", what, used.cpus,
                  w.cpus, pool.size.cpus);
    return fail(EAGAIN, "pool too small: {} {:.3f} CPUs > {:.3f} CPUs in the pool", what, used.cpus, pool.size.cpus);
  }
  if (used.memory_bytes + w.memory_bytes > pool.size.memory_bytes) {
    if (wanted)
      return fail(EAGAIN, "pool full: {} {:.0f} MiB given + {:.0f} MiB wanted > {:.0f} MiB in the pool", what,
                  used.memory_bytes / kMiB, w.memory_bytes / kMiB, pool.size.memory_bytes / kMiB);
    return fail(EAGAIN, "pool too small: {} {:.0f} MiB > {:.0f} MiB in the pool", what, used.memory_bytes / kMiB,
                pool.size.memory_bytes / kMiB);
  }
  return {};
}

Resources sum(const std::vector<PoolMember>& members, Resources PoolMember::*field) {
  Resources s;
  for (const auto& m : members) {
    s.cpus += (m.*field).cpus;
    s.memory_bytes += (m.*field).memory_bytes;
  }
  return s;
}

// cpu.weight in 1..10000, proportional to `basis` (the largest gets 10000: the most precision).
std::vector<uint32_t> weights_for(const std::vector<double>& basis) {
  double top = 0;
  for (double b : basis) top = std::max(top, b);
  std::vector<uint32_t> out;
  for (double b : basis) {
    if (top <= kEps) {
      out.push_back(100);
      continue;
    }
    out.push_back(static_cast<uint32_t>(std::clamp(std::lround(kMaxCpuWeight * b / top), 1L, long{kMaxCpuWeight})));
  }
  return out;
}

std::vector<double> shares_of(const std::vector<PoolMember>& members) {
  std::vector<double> s;
  for (const auto& m : members) s.push_back(m.share);
  return s;
}

std::vector<Allocation> fixed(const std::vector<PoolMember>& members) {
  std::vector<double> basis;
  for (const auto& m : members) basis.push_back(m.quota.cpus);
  auto weights = weights_for(basis);
  std::vector<Allocation> out;
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& q = members[i].quota;
    CgroupPlan plan{weights[i], q.cpus, q.memory_bytes, q.memory_bytes, std::nullopt, q.memory_bytes};
    out.push_back({members[i].name, q, plan});
  }
  return out;
}

std::vector<Allocation> proportional(const PoolShape& pool, const std::vector<PoolMember>& members) {
  auto shares = shares_of(members);
  std::vector<double> cpu_caps, mem_caps;
  for (const auto& m : members) {
    Resources c = ceiling(pool, m);
    cpu_caps.push_back(c.cpus);
    mem_caps.push_back(kBytes(c));
  }
  auto cpus = water_fill(pool.size.cpus, shares, cpu_caps);
  auto bytes = water_fill(kBytes(pool.size), shares, mem_caps);
  auto weights = weights_for(shares);
  std::vector<Allocation> out;
  for (size_t i = 0; i < members.size(); ++i) {
    Resources a = make(cpus[i], bytes[i]);
    CgroupPlan plan;
    plan.cpu_weight = weights[i];
    plan.memory_low = a.memory_bytes;
    if (members[i].max) plan.memory_max = members[i].max->memory_bytes;
    if (pool.hard) {
      plan.cpu_max = a.cpus;
      plan.memory_max = a.memory_bytes;
    }
    out.push_back({members[i].name, a, plan});
  }
  return out;
}

// Priority for one resource: mins, then each priority level's demand from what is left.
std::vector<double> by_priority(const PoolShape& pool, const std::vector<PoolMember>& members, const Get& get) {
  std::vector<double> give, want;
  double left = get(pool.size);
  for (const auto& m : members) {
    double lo = get(m.min), hi = get(ceiling(pool, m));
    give.push_back(lo);
    want.push_back(std::clamp(m.demand ? get(*m.demand) : hi, lo, std::max(lo, hi)));
    left -= lo;
  }
  std::set<int, std::greater<>> levels;
  for (const auto& m : members) levels.insert(m.priority);
  for (int level : levels) {
    std::vector<size_t> at;
    std::vector<double> weights, caps;
    for (size_t i = 0; i < members.size(); ++i)
      if (members[i].priority == level) {
        at.push_back(i);
        weights.push_back(members[i].share);
        caps.push_back(want[i] - give[i]);
      }
    auto got = water_fill(std::max(0.0, left), weights, caps);
    for (size_t k = 0; k < at.size(); ++k) {
      give[at[k]] += got[k];
      left -= got[k];
    }
  }
  return give;
}

// Demand for one resource: a step toward the clamped demand; a short pool scales the part above the mins.
std::vector<double> by_demand(const PoolShape& pool, const std::vector<PoolMember>& members, const Get& get, double gain) {
  std::vector<double> next, above, mins;
  double total = 0, floor = 0;
  for (const auto& m : members) {
    double lo = get(m.min), hi = std::max(lo, get(ceiling(pool, m)));
    double target = std::clamp(m.demand ? get(*m.demand) : hi, lo, hi);
    double now = std::clamp(m.current ? get(*m.current) : lo, lo, hi);
    double n = now + gain * (target - now);
    next.push_back(n);
    mins.push_back(lo);
    above.push_back(n - lo);
    total += n;
    floor += lo;
  }
  if (total <= get(pool.size) + kEps) return next;
  auto extra = water_fill(get(pool.size) - floor, shares_of(members), above);
  for (size_t i = 0; i < next.size(); ++i) next[i] = mins[i] + extra[i];
  return next;
}

std::vector<Allocation> prioritised_or_demand(const PoolShape& pool, const std::vector<PoolMember>& members,
                                              const DemandTuning& tuning) {
  bool demand = pool.policy == PolicyKind::Demand;
  auto cpus = demand ? by_demand(pool, members, kCpus, tuning.gain) : by_priority(pool, members, kCpus);
  auto bytes = demand ? by_demand(pool, members, kBytes, tuning.gain) : by_priority(pool, members, kBytes);
  auto weights = weights_for(cpus);
  std::vector<Allocation> out;
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    Resources a = make(cpus[i], bytes[i]);
    CgroupPlan plan;
    plan.cpu_weight = weights[i];
    plan.memory_min = m.min.memory_bytes;
    plan.memory_low = a.memory_bytes;
    // demand: reclaimed above its allocation, which follows its demand step by step.
    if (demand) plan.memory_high = std::max(a.memory_bytes, m.min.memory_bytes);
    if (m.max) plan.memory_max = m.max->memory_bytes;
    if (pool.hard) {
      plan.cpu_max = a.cpus;
      plan.memory_max = a.memory_bytes;
      plan.memory_high.reset();
    }
    out.push_back({m.name, a, plan});
  }
  return out;
}

}  // namespace

std::string_view to_string(PolicyKind p) {
  switch (p) {
    case PolicyKind::Fixed: return "fixed";
    case PolicyKind::Proportional: return "proportional";
    case PolicyKind::Priority: return "priority";
    case PolicyKind::Demand: return "demand";
    case PolicyKind::Timeslice: return "timeslice";
  }
  return "?";
}

std::optional<PolicyKind> parse_policy(std::string_view text) {
  for (auto p : {PolicyKind::Fixed, PolicyKind::Proportional, PolicyKind::Priority, PolicyKind::Demand, PolicyKind::Timeslice})
    if (to_string(p) == text) return p;
  return std::nullopt;
}

std::vector<double> water_fill(double amount, const std::vector<double>& weights, const std::vector<double>& caps) {
  std::vector<double> give(weights.size(), 0.0);
  std::vector<bool> open(weights.size(), false);
  for (size_t i = 0; i < weights.size(); ++i) open[i] = weights[i] > 0 && caps[i] > kEps;
  double left = amount;
  while (left > kEps) {
    double total = 0;
    for (size_t i = 0; i < weights.size(); ++i)
      if (open[i]) total += weights[i];
    if (total <= 0) break;
    // Those whose proportional part would pass their cap take the cap; the rest is shared again.
    bool capped = false;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (!open[i] || give[i] + left * weights[i] / total < caps[i] - kEps) continue;
      left -= caps[i] - give[i];
      give[i] = caps[i];
      open[i] = false;
      capped = true;
    }
    if (capped) continue;
    for (size_t i = 0; i < weights.size(); ++i)
      if (open[i]) give[i] += left * weights[i] / total;
    left = 0;
  }
  return give;
}

Result<std::vector<Allocation>> allocate(const PoolShape& pool, const std::vector<PoolMember>& members,
                                         const DemandTuning& tuning) {
  TRY(validate(pool, members));
  if (!(tuning.gain > 0 && tuning.gain <= 1)) return fail(EINVAL, "demand gain {} is outside (0, 1]", tuning.gain);
  switch (pool.policy) {
    case PolicyKind::Fixed:
      TRY(fits(pool, "quotas", sum(members, &PoolMember::quota), std::nullopt));
      return fixed(members);
    case PolicyKind::Proportional:
      return proportional(pool, members);
    case PolicyKind::Timeslice: {
      // The turns carry the CPU (timeslice.h): a quota here would cap the member holding it.
      PoolShape soft = pool;
      soft.hard = false;
      return proportional(soft, members);
    }
    case PolicyKind::Priority:
    case PolicyKind::Demand:
      TRY(fits(pool, "minimums", sum(members, &PoolMember::min), std::nullopt));
      return prioritised_or_demand(pool, members, tuning);
  }
  return fail(EINVAL, "unknown policy");
}

Result<void> admit_member(const PoolShape& pool, const std::vector<PoolMember>& members, const PoolMember& wanted) {
  std::vector<PoolMember> all = members;
  all.push_back(wanted);
  TRY(validate(pool, all));
  if (pool.policy == PolicyKind::Fixed) return fits(pool, "quotas", sum(members, &PoolMember::quota), wanted.quota);
  return fits(pool, "minimums", sum(members, &PoolMember::min), wanted.min);
}

std::vector<uint64_t> time_slices(const std::vector<Allocation>& allocations, uint64_t round_ns) {
  double total = 0;
  for (const auto& a : allocations) total += a.amount.cpus;
  std::vector<uint64_t> out;
  for (const auto& a : allocations) {
    double part = total > kEps ? a.amount.cpus / total : 1.0 / static_cast<double>(allocations.size());
    out.push_back(static_cast<uint64_t>(std::floor(part * static_cast<double>(round_ns))));
  }
  return out;
}

}  // namespace vessel::daemon
