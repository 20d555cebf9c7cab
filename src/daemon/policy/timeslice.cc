#include "daemon/policy/timeslice.h"

#include <algorithm>
#include <cmath>

#include "daemon/policy/cgroup_values.h"

namespace vessel::daemon {

CpuLimit on_turn_limit(double on_cpus) {
  double us = std::round(on_cpus * static_cast<double>(kSlicePeriodUs));
  return {std::max<uint64_t>(kMinCpuQuotaUs, static_cast<uint64_t>(std::max(0.0, us))), kSlicePeriodUs};
}

CpuLimit own_cpu_limit(double on_cpus) { return {cpu_quota_us(on_cpus), kCpuPeriodUs}; }

SliceSchedule slice_schedule(std::vector<SliceMember> members, uint64_t round_ns) {
  std::vector<Allocation> basis;
  for (const auto& m : members) basis.push_back({m.name, {m.cpus, 0}, {}});
  auto slices = time_slices(basis, round_ns);
  SliceSchedule s{round_ns, {}};
  for (size_t i = 0; i < members.size(); ++i) {
    if (slices[i] == 0) continue;
    members[i].slice_ns = slices[i];
    s.members.push_back(std::move(members[i]));
  }
  return s;
}

std::vector<LimitWrite> turn_writes(const SliceSchedule& s, std::optional<size_t> from, size_t to) {
  std::vector<LimitWrite> out;
  if (to >= s.members.size()) return out;
  auto on = [&](size_t i) { return LimitWrite{s.members[i].cgroup, on_turn_limit(s.members[i].on_cpus)}; };
  auto off = [&](size_t i) { return LimitWrite{s.members[i].cgroup, kOffTurnLimit}; };
  if (!from) {
    for (size_t i = 0; i < s.members.size(); ++i)
      if (i != to) out.push_back(off(i));
  } else if (*from != to && *from < s.members.size()) {
    out.push_back(off(*from));
  }
  out.push_back(on(to));
  return out;
}

std::vector<LimitWrite> restore_writes(const SliceSchedule& old, const SliceSchedule* next) {
  std::vector<LimitWrite> out;
  for (const auto& m : old.members) {
    bool stays = next && std::any_of(next->members.begin(), next->members.end(),
                                     [&](const SliceMember& n) { return n.cgroup == m.cgroup; });
    if (!stays) out.push_back({m.cgroup, own_cpu_limit(m.on_cpus)});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> cpu_limit_files(const LimitWrite& w, int version) {
  std::string quota = std::to_string(w.limit.quota_us), period = std::to_string(w.limit.period_us);
  if (version == 2) return {{"cpu.max", quota + " " + period}};
  // The old quota over the longest period is a lower ratio still; a new quota over the old turn's
  // period is lower than over its own shorter one.
  if (w.limit.period_us >= kSlicePeriodUs) return {{"cpu.cfs_period_us", period}, {"cpu.cfs_quota_us", quota}};
  return {{"cpu.cfs_quota_us", quota}, {"cpu.cfs_period_us", period}};
}

}  // namespace vessel::daemon
