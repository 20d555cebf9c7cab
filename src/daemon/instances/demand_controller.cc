#include "daemon/instances/demand_controller.h"

#include "base/log.h"

namespace vessel::daemon {

namespace {

std::string key_of(const DemandPool& pool, const DemandMember& m) { return pool.name + "/" + m.name; }

std::optional<GuestMemory> guest_memory(const DemandMember& m, const MemberReading& r) {
  if (!r.balloon || !r.balloon->total_bytes || !r.balloon->available_bytes) return std::nullopt;
  GuestMemory g;
  g.total = *r.balloon->total_bytes;
  g.available = *r.balloon->available_bytes;
  g.balloon = r.balloon->actual_mib << 20;
  g.balloon_in_total = m.balloon && m.balloon->deflate_on_oom;
  g.overhead = m.overhead_bytes;
  return g;
}

}  // namespace

std::vector<Resources> DemandController::demands(const DemandPool& pool,
                                                 const std::vector<std::optional<MemberReading>>& readings) {
  std::vector<Resources> out;
  for (size_t i = 0; i < pool.members.size(); ++i) {
    const auto& m = pool.members[i];
    Resources current = m.current.value_or(m.max);
    Resources demand = current;
    std::string key = key_of(pool, m);
    if (readings[i]) {
      UsageCounters now = readings[i]->counters;
      now.guest = guest_memory(m, *readings[i]);
      if (auto last = last_.find(key); last != last_.end())
        if (auto usage = usage_between(last->second, now)) {
          demand = estimate_demand(*usage, current, tuning_.estimate);
          // A VM without its guest's figures holds what its guest touched: it is not asked back.
          if (m.vm && !usage->guest) demand.memory_bytes = m.max.memory_bytes;
        }
      last_[key] = now;
    }
    out.push_back(demand);
  }
  return out;
}

void DemandController::size_balloons(const DemandPool& pool, const std::vector<std::optional<MemberReading>>& readings,
                                     const std::vector<Allocation>& allocations) {
  for (size_t i = 0; i < pool.members.size(); ++i) {
    const auto& m = pool.members[i];
    if (!m.balloon || !readings[i] || !readings[i]->balloon) continue;
    uint64_t target =
        balloon_target_mib(m.guest_mib, allocations[i].amount.memory_bytes, m.overhead_bytes, tuning_.guest_floor_mib);
    uint64_t now = readings[i]->balloon->target_mib;
    uint64_t moved = target > now ? target - now : now - target;
    if (moved < tuning_.balloon_step_mib && !(target == 0 && now != 0)) continue;
    if (auto set = io_.set_balloon(m, target); !set)
      log::warn("pool {}: member {}: balloon to {} MiB: {}", pool.name, m.name, target, set.error().to_string());
    else
      log::debug("pool {}: member {}: balloon {} -> {} MiB", pool.name, m.name, now, target);
  }
}

void DemandController::step_pool(const DemandPool& pool) {
  std::vector<std::optional<MemberReading>> readings;
  for (const auto& m : pool.members) readings.push_back(io_.read(m));
  auto wanted = demands(pool, readings);
  std::vector<PoolMember> members;
  for (size_t i = 0; i < pool.members.size(); ++i) {
    const auto& m = pool.members[i];
    PoolMember p;
    p.name = m.name;
    p.share = m.share;
    p.max = m.max;
    p.quota = m.max;
    p.demand = wanted[i];
    p.current = m.current.value_or(m.max);
    members.push_back(std::move(p));
  }
  auto allocated = allocate(pool.shape, members, tuning_.demand);
  if (!allocated) {
    log::warn("pool {}: {}", pool.name, allocated.error().to_string());
    return;
  }
  if (auto applied = io_.apply(pool, wanted, *allocated); !applied) {
    if (applied.error().errnum() != ESTALE) log::warn("pool {}: {}", pool.name, applied.error().to_string());
    return;  // changed meanwhile: the next period sees it as it is
  }
  size_balloons(pool, readings, *allocated);
}

void DemandController::step() {
  std::map<std::string, UsageCounters> seen;
  for (const auto& pool : io_.demand_pools()) {
    step_pool(pool);
    for (const auto& m : pool.members)
      if (auto it = last_.find(key_of(pool, m)); it != last_.end()) seen.insert(*it);
  }
  last_.swap(seen);  // members that left are forgotten: back, they start afresh
}

DemandLoop::DemandLoop(DemandController& controller, std::chrono::milliseconds period)
    : controller_(controller), period_(period) {
  timers_.schedule("demand", period_, [this] { tick(); });
}

void DemandLoop::tick() {
  if (timers_.stopping()) return;
  auto started = TimerThread::Clock::now();
  controller_.step();
  // The next step one period after this one began (a slow step is not followed by a pile-up).
  auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(TimerThread::Clock::now() - started);
  timers_.schedule("demand", std::max(std::chrono::milliseconds(10), period_ - spent), [this] { tick(); });
}

}  // namespace vessel::daemon
