#include "daemon/policy/simulator.h"

#include <algorithm>

namespace vessel::daemon {

namespace {

constexpr double kEpsilon = 1e-9;
// Member-steps one simulation may take (a trace is a client's: it may not keep vesseld busy for
// long). 20 million take a few seconds.
constexpr uint64_t kMaxMemberSteps = 20'000'000;

struct Live {
  PoolMember member;
  std::optional<double> sla_cpus;
  size_t report;  // index in SimReport::members
};

class Simulation {
 public:
  Simulation(const Trace& trace, PoolShape pool) : trace_(trace), pool_(pool) {}
  Result<SimReport> run();

 private:
  void apply(const TraceEvent& e, uint64_t now);
  Result<void> step(uint64_t now);
  std::vector<double> usage(const std::vector<Allocation>& allocations) const;
  void finish();

  const Trace& trace_;
  PoolShape pool_;
  uint64_t work_ = 0;
  std::vector<Live> live_;
  SimReport report_;
};

void Simulation::apply(const TraceEvent& e, uint64_t now) {
  auto it = std::find_if(live_.begin(), live_.end(), [&](const Live& l) { return l.member.name == e.member.name; });
  switch (e.kind) {
    case TraceEvent::Kind::Arrive: {
      if (it != live_.end()) return;  // already there: the trace names it twice
      SimMember m{.name = e.member.name, .share = e.member.share, .arrived_ms = now};
      std::vector<PoolMember> members;
      for (const auto& l : live_) members.push_back(l.member);
      if (auto admitted = admit_member(pool_, members, e.member); !admitted) {
        m.refused = true;
        m.refusal = admitted.error().to_string();
        report_.members.push_back(std::move(m));
        return;
      }
      report_.members.push_back(std::move(m));
      live_.push_back({e.member, e.sla_cpus, report_.members.size() - 1});
      return;
    }
    case TraceEvent::Kind::Demand:
      if (it != live_.end()) it->member.demand = e.member.demand;
      return;
    case TraceEvent::Kind::Leave:
      if (it == live_.end()) return;
      report_.members[it->report].left_ms = now;
      live_.erase(it);
      return;
  }
}

std::vector<double> Simulation::usage(const std::vector<Allocation>& allocations) const {
  std::vector<double> weights, caps;
  for (size_t i = 0; i < live_.size(); ++i) {
    const auto& plan = allocations[i].plan;
    double wanted = live_[i].member.demand ? live_[i].member.demand->cpus : pool_.size.cpus;
    weights.push_back(std::max<double>(plan.cpu_weight, 1));
    caps.push_back(std::min(wanted, plan.cpu_max.value_or(pool_.size.cpus)));
  }
  return water_fill(pool_.size.cpus, weights, caps);
}

Result<void> Simulation::step(uint64_t now) {
  if (live_.empty()) return {};
  work_ += live_.size();
  if (work_ > kMaxMemberSteps)
    return fail(E2BIG, "the trace needs more than {} member-steps: use a longer step_ms or a shorter trace", kMaxMemberSteps);
  std::vector<PoolMember> members;
  for (const auto& l : live_) members.push_back(l.member);
  auto allocations = allocate(pool_, members, trace_.tuning);
  if (!allocations) return Unexpected(std::move(allocations).error().add_context(fmt::format("at {} ms", now)));
  auto used = usage(*allocations);
  for (size_t i = 0; i < live_.size(); ++i) {
    auto& l = live_[i];
    SimMember& r = report_.members[l.report];
    double wanted = l.member.demand ? l.member.demand->cpus : pool_.size.cpus;
    r.steps++;
    r.allocated_cpus += (*allocations)[i].amount.cpus;
    r.memory_bytes += static_cast<double>((*allocations)[i].amount.memory_bytes);
    r.used_cpus += used[i];
    r.demand_cpus += wanted;
    if (used[i] + kEpsilon < wanted) r.waiting_ms += trace_.step_ms;
    if (l.sla_cpus && used[i] + kEpsilon < *l.sla_cpus) r.sla_misses++;
    // The demand policy moves from the allocation in force.
    if (pool_.policy == PolicyKind::Demand) l.member.current = (*allocations)[i].amount;
  }
  return {};
}

void Simulation::finish() {
  double sum = 0, squares = 0;
  size_t n = 0;
  for (auto& m : report_.members) {
    if (m.steps == 0) continue;
    double steps = static_cast<double>(m.steps);
    m.allocated_cpus /= steps;
    m.memory_bytes /= steps;
    m.used_cpus /= steps;
    m.demand_cpus /= steps;
    double x = m.used_cpus / m.share;
    sum += x;
    squares += x * x;
    ++n;
  }
  report_.jain = squares > 0 ? sum * sum / (static_cast<double>(n) * squares) : 1;
}

Result<SimReport> Simulation::run() {
  report_.policy = pool_.policy;
  size_t next = 0;
  for (uint64_t now = 0; now < trace_.duration_ms; now += trace_.step_ms) {
    while (next < trace_.events.size() && trace_.events[next].at_ms <= now) apply(trace_.events[next++], now);
    TRY(step(now));
    report_.steps++;
  }
  finish();
  return report_;
}

}  // namespace

Result<SimReport> simulate(const Trace& trace, std::optional<PolicyKind> policy) {
  PoolShape pool = trace.pool;
  if (policy) pool.policy = *policy;
  return Simulation(trace, pool).run();
}

json::Json to_json(const SimReport& report) {
  json::Json members = json::Json::array();
  for (const auto& m : report.members) {
    json::Json j = {{"name", m.name},
                    {"share", m.share},
                    {"arrived_ms", m.arrived_ms},
                    {"left_ms", m.left_ms ? json::Json(*m.left_ms) : json::Json(nullptr)},
                    {"refused", m.refused},
                    {"steps", m.steps},
                    {"allocated_cpus", m.allocated_cpus},
                    {"memory_bytes", static_cast<uint64_t>(m.memory_bytes)},
                    {"used_cpus", m.used_cpus},
                    {"demand_cpus", m.demand_cpus},
                    {"utilisation", m.allocated_cpus > 0 ? m.used_cpus / m.allocated_cpus : 0.0},
                    {"waiting_ms", m.waiting_ms},
                    {"sla_misses", m.sla_misses}};
    if (m.refused) j["refusal"] = m.refusal;
    members.push_back(std::move(j));
  }
  return {{"policy", std::string(to_string(report.policy))}, {"steps", report.steps}, {"jain", report.jain},
          {"members", members}};
}

}  // namespace vessel::daemon
