#include "daemon/instances/pools.h"

#include <algorithm>

#include "base/log.h"
#include "daemon/instances/state.h"
#include "daemon/instances/vm_backend.h"
#include "daemon/instances/vm_balloon.h"
#include "daemon/policy/cgroups.h"
#include "daemon/policy/pool_cgroups.h"
#include "daemon/policy/requeue_groups.h"
#include "daemon/policy/usage_counters.h"
#include "daemon/policy/sched_idle.h"
#include "daemon/policy/slice_cgroups.h"

namespace vessel::daemon {

namespace {

// A member's own limits, the most the pool may give it (a VM's cgroup holds vessel-vmm too).
Resources own_limits(const InstanceSpec& spec) {
  uint64_t mib = spec.memory_mib + (spec.type == InstanceType::Vm ? kVmmMemoryAllowanceMib : 0);
  return {spec.cpu_quota.value_or(spec.cpus), mib << 20};
}

bool running(const std::string& state) {
  auto s = parse_state(state);
  return s && holds_resources(*s);
}

PoolMember to_member(const std::string& name, const InstanceSpec& spec) {
  PoolMember m;
  m.name = name;
  m.share = spec.pool->share;
  m.priority = spec.pool->priority;
  m.quota = own_limits(spec);
  m.max = own_limits(spec);
  return m;
}

json::Json resources_json(const Resources& r) { return {{"cpus", r.cpus}, {"memory_bytes", r.memory_bytes}}; }

json::Json plan_json(const CgroupPlan& p) {
  json::Json j = {{"cpu_weight", p.cpu_weight}, {"memory_min", p.memory_min}, {"memory_low", p.memory_low}};
  j["cpu_max"] = p.cpu_max ? json::Json(*p.cpu_max) : json::Json();
  j["memory_high"] = p.memory_high ? json::Json(*p.memory_high) : json::Json();
  j["memory_max"] = p.memory_max ? json::Json(*p.memory_max) : json::Json();
  return j;
}

json::Json turns_json(const SliceSchedule& s) {
  json::Json turns = json::Json::array();
  for (const auto& m : s.members)
    turns.push_back({{"name", m.name}, {"slice_ms", static_cast<double>(m.slice_ns) / 1e6}, {"on_cpus", m.on_cpus}});
  return {{"round_ms", static_cast<double>(s.round_ns) / 1e6}, {"turns", turns}};
}

}  // namespace

Pools::~Pools() {
  std::lock_guard lock(mutex_);
  rotations_.clear();
}

void Pools::apply_all() {
  auto rows = store_.list_pools();
  if (!rows) return;
  std::lock_guard lock(mutex_);
  for (const auto& row : *rows)
    if (auto pool = parse_pool_spec_text(row.spec))
      if (auto applied = apply_locked(*pool); !applied) log::warn("pool {}: {}", pool->name, applied.error().to_string());
}

Result<PoolSpec> Pools::load(const std::string& name) {
  TRY(validate_name(name));
  auto row = TRY(store_.get_pool(name));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no pool named {}", name)).with_hint("see `vessel pool ls`"));
  return parse_pool_spec_text(row->spec);
}

Result<std::vector<Pools::Member>> Pools::members(const std::string& pool) {
  std::vector<Member> out;
  for (auto& row : TRY(store_.list_instances())) {
    auto spec = parse_spec_text(row.spec);
    if (spec && spec->pool && spec->pool->pool == pool) out.push_back({row.name, row.state, std::move(*spec), static_cast<pid_t>(row.pid)});
  }
  return out;
}

std::optional<Pools::InForce> Pools::in_force(const std::string& member) {
  std::lock_guard lock(in_force_mutex_);
  auto it = in_force_.find(member);
  if (it == in_force_.end()) return std::nullopt;
  return it->second;
}

Result<std::vector<Allocation>> Pools::allocations(const PoolSpec& pool, const std::vector<Member>& holders) {
  std::vector<PoolMember> members;
  for (const auto& m : holders) {
    members.push_back(to_member(m.name, m.spec));
    // demand: what the controller allocated stays (it moves it each period); a member it has not
    // measured yet gets its own limits, reached at once.
    if (pool.policy == PolicyKind::Demand)
      if (auto set = in_force(m.name)) members.back().demand = members.back().current = set->allocation;
  }
  auto allocated = TRY(allocate(pool.shape(), members, {1.0}));
  adjust_plans(pool, holders, allocated);
  return allocated;
}

void Pools::adjust_plans(const PoolSpec& pool, const std::vector<Member>& holders, std::vector<Allocation>& allocated) const {
  for (size_t i = 0; i < allocated.size(); ++i) {
    const InstanceSpec& spec = holders[i].spec;
    // cgroup v1 refuses a child's quota above its parent's; on v2 it changes nothing.
    if (!allocated[i].plan.cpu_max && spec.cpus > pool.cpus) allocated[i].plan.cpu_max = pool.cpus;
    if (pool.policy == PolicyKind::Demand && spec.type == InstanceType::Vm && spec.balloon) allocated[i].plan.memory_high.reset();
  }
}

void Pools::write_members(const PoolSpec& pool, const std::vector<Member>& holders, const std::vector<Allocation>& allocated,
                          bool quiet) {
  for (size_t i = 0; i < holders.size(); ++i) {
    std::string cgroup = *member_cgroup(holders[i].spec);
    auto applied = apply_member_cgroup(cgroup, allocated[i].plan, pool.cpuset, holders[i].pid);
    if (!applied && !quiet) log::warn("pool {}: member {}: {}", pool.name, holders[i].name, applied.error().to_string());
    bool best_effort = holders[i].spec.pool->best_effort;
    if (auto idle = apply_sched_idle(cgroup, best_effort); !idle && !quiet && best_effort)
      log::warn("pool {}: member {}: best-effort: {}", pool.name, holders[i].name, idle.error().to_string());
  }
}

Result<std::vector<Pools::Member>> Pools::running_members(const std::string& pool) {
  std::vector<Member> holders;
  for (auto& m : TRY(members(pool)))
    if (running(m.state)) holders.push_back(std::move(m));
  return holders;
}

Result<void> Pools::apply_locked(const PoolSpec& pool) {
  std::vector<Member> holders = TRY(running_members(pool.name));
  auto allocated = TRY_CTX(allocations(pool, holders), "pool {}", pool.name);
  // A member on its way out gets CPU to end: squeezed to the least weight beside a busy one, a
  // container took minutes to handle its SIGKILL.
  relieve_locked(pool, holders);
  for (size_t i = 0; i < holders.size(); ++i)
    if (relieving_.contains(holders[i].name)) allocated[i].plan.cpu_weight = kMaxCpuWeight;
  // Another policy now: the turns end before its plan is written (their restore would undo it).
  if (pool.policy != PolicyKind::Timeslice) rotations_.erase(pool.name);
  auto apply_members = [&](bool quiet) { write_members(pool, holders, allocated, quiet); };
  // cgroup v1 refuses a parent's CFS quota below a child's: a pool that shrinks lowers its
  // members' quotas first; one that grows raises its own first.
  if (auto grown = apply_pool_cgroup(pool_cgroup(pool.name), pool.shape().size, pool.cpuset); !grown) {
    apply_members(/*quiet=*/true);
    TRY(apply_pool_cgroup(pool_cgroup(pool.name), pool.shape().size, pool.cpuset));
  }
  apply_members(/*quiet=*/false);
  rotate_locked(pool, holders, allocated);
  return {};
}

void Pools::set_shortage_handler(ShortageHandler handler) {
  std::lock_guard lock(mutex_);
  shortage_handler_ = std::move(handler);
}

void Pools::relieve_locked(const PoolSpec& pool, const std::vector<Member>& holders) {
  std::erase_if(relieving_, [&](const std::string& name) {
    return std::none_of(holders.begin(), holders.end(), [&](const Member& m) { return m.name == name; });
  });
  if (pool.policy != PolicyKind::Priority || pool.on_shortage == ShortageAction::None) return;
  std::vector<PoolMember> members;
  for (const auto& m : holders) members.push_back(to_member(m.name, m.spec));
  for (const auto& victim : shortage_victims(pool.memory_mib << 20, members)) {
    if (!relieving_.insert(victim).second) continue;  // already on its way out
    log::info("pool {}: memory short ({} MiB): {} member {} (the lowest priority)", pool.name, pool.memory_mib,
              to_string(pool.on_shortage), victim);
    if (shortage_handler_) shortage_handler_(pool.name, victim, pool.on_shortage);
  }
}

SliceSchedule Pools::slice_schedule_of(const PoolSpec& pool, const std::vector<Member>& holders,
                                       const std::vector<Allocation>& allocated) const {
  std::vector<SliceMember> turns;
  for (size_t i = 0; i < holders.size(); ++i) {
    if (parse_state(holders[i].state) != State::Running) continue;  // paused: frozen, its turn would be lost
    double own = own_limits(holders[i].spec).cpus;
    turns.push_back({holders[i].name, *member_cgroup(holders[i].spec), allocated[i].amount.cpus,
                     own > 0 ? std::min(own, pool.cpus) : pool.cpus, 0});
  }
  return slice_schedule(std::move(turns), pool.round_ms * 1'000'000);
}

void Pools::rotate_locked(const PoolSpec& pool, const std::vector<Member>& holders, const std::vector<Allocation>& allocated) {
  auto schedule = pool.policy == PolicyKind::Timeslice ? slice_schedule_of(pool, holders, allocated) : SliceSchedule{};
  if (schedule.members.empty()) {
    rotations_.erase(pool.name);  // joins its thread; the members that still run get their limits back
    return;
  }
  auto& rotation = rotations_[pool.name];
  if (!rotation) rotation = std::make_unique<SliceRotation>(pool.name, write_cpu_limit);
  rotation->set(std::move(schedule));
}

Result<json::Json> Pools::create(const PoolSpec& spec) {
  std::lock_guard lock(mutex_);
  TRY(store_.insert_pool({spec.name, to_json(spec).dump(), 0}));
  if (auto made = apply_pool_cgroup(pool_cgroup(spec.name), spec.shape().size, spec.cpuset); !made) {
    (void)store_.delete_pool(spec.name);
    return Unexpected(std::move(made).error().add_context(fmt::format("create pool {}", spec.name)));
  }
  return to_json(spec);
}

Result<json::Json> Pools::list() {
  json::Json out = json::Json::array();
  for (const auto& row : TRY(store_.list_pools())) {
    auto spec = parse_pool_spec_text(row.spec);
    if (!spec) continue;
    json::Json j = to_json(*spec);
    auto all = TRY(members(row.name));
    size_t active = 0;
    for (const auto& m : all) active += running(m.state) ? 1 : 0;
    j["members"] = all.size();
    j["running"] = active;
    out.push_back(j);
  }
  return out;
}

Result<json::Json> Pools::inspect(const std::string& name) {
  auto pool = TRY(load(name));
  auto all = TRY(members(name));
  std::vector<Member> holders;
  for (const auto& m : all)
    if (running(m.state)) holders.push_back(m);
  auto allocated = TRY(allocations(pool, holders));
  json::Json j = to_json(pool);
  j["cgroup"] = pool_cgroup(name);
  j["rotation"] = nullptr;
  std::optional<SliceSchedule> turns;
  {
    std::lock_guard lock(mutex_);
    if (auto r = rotations_.find(name); r != rotations_.end()) turns = r->second->schedule();
  }
  if (turns) j["rotation"] = turns_json(*turns);
  json::Json list = json::Json::array();
  Resources total;
  for (const auto& m : all) {
    std::string cgroup = *member_cgroup(m.spec);
    auto usage = cgroup_stats(cgroup);
    json::Json e = {{"name", m.name},
                    {"state", m.state},
                    {"type", std::string(to_string(m.spec.type))},
                    {"share", m.spec.pool->share},
                    {"priority", m.spec.pool->priority},
                    {"best_effort", m.spec.pool->best_effort},
                    {"slice_ms", nullptr},
                    {"sched_idle", nullptr},
                    {"own_limits", resources_json(own_limits(m.spec))},
                    {"cgroup", cgroup},
                    {"allocation", nullptr},
                    {"limits", nullptr},
                    {"applied", nullptr}};
    if (usage.found) e["usage"] = {{"cpu_ns", usage.cpu_ns}, {"memory_bytes", usage.memory_bytes}};
    for (size_t i = 0; i < holders.size(); ++i) {
      if (holders[i].name != m.name) continue;
      e["allocation"] = resources_json(allocated[i].amount);
      e["limits"] = plan_json(allocated[i].plan);
      e["applied"] = read_member_cgroup(cgroup);
      if (pool.policy == PolicyKind::Demand)
        if (auto set = in_force(m.name)) e["demand"] = resources_json(set->demand);
      if (m.spec.type == InstanceType::Vm && m.spec.balloon && !instances_dir_.empty())
        if (auto b = read_balloon(instances_dir_ + "/" + m.name)) e["balloon"] = to_json(*b);
      e["sched_idle"] = read_sched_idle(cgroup);
      total.cpus += allocated[i].amount.cpus;
      total.memory_bytes += allocated[i].amount.memory_bytes;
    }
    if (turns)
      for (const auto& t : turns->members)
        if (t.name == m.name) e["slice_ms"] = static_cast<double>(t.slice_ns) / 1e6;
    list.push_back(e);
  }
  j["members"] = list;
  j["allocated"] = resources_json(total);
  return j;
}

Result<json::Json> Pools::update(const std::string& name, const json::Json& patch) {
  std::lock_guard lock(mutex_);
  auto current = TRY(load(name));
  auto next = TRY(parse_pool_update(patch, current));
  // The new shape must hold what the running members are guaranteed (a fixed pool's quotas).
  std::vector<PoolMember> holders;
  for (const auto& m : TRY(members(name)))
    if (running(m.state)) holders.push_back(to_member(m.name, m.spec));
  TRY_CTX(allocate(next.shape(), holders, {1.0}), "pool {}", name);
  TRY(store_.update_pool(name, to_json(next).dump()));
  TRY_CTX(apply_locked(next), "pool {}", name);
  return to_json(next);
}

Result<void> Pools::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  TRY(load(name));
  std::string names;
  for (const auto& m : TRY(members(name))) names += (names.empty() ? "" : ", ") + m.name;
  if (!names.empty())
    return Unexpected(Error(EBUSY, fmt::format("pool {} has members: {}", name, names))
                          .with_hint("delete those instances first (`vessel rm`)"));
  TRY(store_.delete_pool(name));
  rotations_.erase(name);
  remove_pool_cgroup(pool_cgroup(name));
  remove_pool_cgroup("/" + parent_);  // the last pool's parent (busy while other pools remain: kept)
  return {};
}

std::optional<std::string> Pools::member_cgroup(const InstanceSpec& spec) const {
  if (!spec.pool) return std::nullopt;
  return pool_cgroup(spec.pool->pool) + "/" + spec.name;
}

Result<uint32_t> Pools::admit(const std::string& name, const InstanceSpec& spec) {
  if (!spec.pool) return spec.cpu_weight;
  std::lock_guard lock(mutex_);
  auto pool = TRY(load(spec.pool->pool).map_error([&](Error e) {
    return std::move(e).with_hint(fmt::format("create it first: vessel pool create {} --cpus N --memory M", spec.pool->pool));
  }));
  std::vector<PoolMember> holders;
  for (const auto& m : TRY(members(pool.name)))
    if (m.name != name && running(m.state)) holders.push_back(to_member(m.name, m.spec));
  TRY_CTX(admit_member(pool.shape(), holders, to_member(name, spec)), "pool {}", pool.name);
  // Its cgroup, with the pool's size, before the member's is made below it.
  TRY(apply_pool_cgroup(pool_cgroup(pool.name), pool.shape().size, pool.cpuset));
  // It starts at the highest weight, whatever its share: its runtime or vessel-vmm must get going
  // beside busy members (at its planned weight, a priority pool's low member got ~0 and took
  // minutes). Its pool's plan applies once it runs (changed()).
  return kMaxCpuWeight;
}

void Pools::changed(const std::string& name) {
  auto row = store_.get_instance(name);
  if (!row || !*row || !running((*row)->state)) {
    std::lock_guard lock(in_force_mutex_);
    in_force_.erase(name);  // back, it starts afresh at its own limits
  }
  if (!row || !*row) return;
  auto spec = parse_spec_text((*row)->spec);
  if (!spec || !spec->pool) return;
  std::lock_guard lock(mutex_);
  auto pool = load(spec->pool->pool);
  if (!pool) return;
  if (auto applied = apply_locked(*pool); !applied) log::warn("pool {}: {}", pool->name, applied.error().to_string());
}

void Pools::stopping(const std::string& name, const InstanceSpec& spec) {
  if (!spec.pool) return;
  std::lock_guard lock(mutex_);
  auto pool = load(spec.pool->pool);
  if (!pool) return;
  relieving_.insert(name);  // full weight in the plan until it no longer runs (relieve_locked)
  if (auto applied = apply_locked(*pool); !applied) log::warn("pool {}: {}", pool->name, applied.error().to_string());
  // Level with its neighbours in virtual time, or its raise can wait tens of seconds
  // (requeue_groups.h). A timeslice pool's turns already stop and restart its members.
  if (pool->policy == PolicyKind::Timeslice) return;
  std::vector<std::string> neighbours;
  if (auto holders = running_members(pool->name))
    for (const auto& m : *holders)
      if (m.name != name)
        if (auto cgroup = member_cgroup(m.spec)) neighbours.push_back(*cgroup);
  requeue_groups(neighbours);
}

DemandMember Pools::demand_member(const Member& m) {
  DemandMember d;
  d.name = m.name;
  d.vm = m.spec.type == InstanceType::Vm;
  d.cgroup = *member_cgroup(m.spec);
  d.dir = instances_dir_ + "/" + m.name;
  d.share = m.spec.pool->share;
  d.max = own_limits(m.spec);
  if (d.vm) {
    d.guest_mib = m.spec.memory_mib;
    d.overhead_bytes = kVmmMemoryAllowanceMib << 20;
    d.balloon = m.spec.balloon;
  }
  if (auto set = in_force(m.name)) d.current = set->allocation;
  return d;
}

std::vector<DemandPool> Pools::demand_pools() {
  std::vector<DemandPool> out;
  auto rows = store_.list_pools();
  if (!rows) return out;
  for (const auto& row : *rows) {
    auto spec = parse_pool_spec_text(row.spec);
    if (!spec || spec->policy != PolicyKind::Demand) continue;
    auto holders = running_members(row.name);
    if (!holders || holders->empty()) continue;
    DemandPool pool{row.name, spec->shape(), {}};
    for (const auto& m : *holders) pool.members.push_back(demand_member(m));
    out.push_back(std::move(pool));
  }
  return out;
}

std::optional<MemberReading> Pools::read(const DemandMember& m) {
  auto counters = read_usage_counters(m.cgroup);
  if (!counters.found) return std::nullopt;
  MemberReading r{counters.counters, std::nullopt};
  if (m.balloon && !instances_dir_.empty())
    if (auto b = read_balloon(m.dir)) r.balloon = BalloonFigures{b->target_mib, b->actual_mib, b->total_memory, b->available_memory};
  return r;
}

Result<void> Pools::apply(const DemandPool& wanted, const std::vector<Resources>& demands,
                          const std::vector<Allocation>& allocations) {
  std::lock_guard lock(mutex_);
  auto pool = TRY(load(wanted.name));
  auto holders = TRY(running_members(wanted.name));
  bool same = pool.policy == PolicyKind::Demand && holders.size() == wanted.members.size();
  for (size_t i = 0; same && i < holders.size(); ++i) same = holders[i].name == wanted.members[i].name;
  if (!same) return fail(ESTALE, "pool {} changed during the controller's step", wanted.name);
  std::vector<Allocation> allocated = allocations;
  adjust_plans(pool, holders, allocated);
  write_members(pool, holders, allocated, false);
  std::lock_guard state(in_force_mutex_);
  for (size_t i = 0; i < holders.size(); ++i) in_force_[holders[i].name] = {demands[i], allocated[i].amount};
  return {};
}

Result<void> Pools::set_balloon(const DemandMember& m, uint64_t target_mib) { return set_balloon_target(m.dir, target_mib); }

}  // namespace vessel::daemon
