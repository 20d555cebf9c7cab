// pool create|ls|inspect|set|rm, and run/create's --pool/--share/--priority/--best-effort
// (docs/daemon/pools.md)
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/recovery_flags.h"

namespace vessel::cli {

namespace {

std::string pools_table(const json::Json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : list)
    rows.push_back({p.value("name", ""), fmt::format("{:g}", p.value("cpus", 0.0)), std::to_string(p.value("memory_mib", 0)) + " MiB",
                    p.value("policy", "") + (p.value("hard", false) ? " (hard)" : ""),
                    fmt::format("{}/{}", p.value("running", 0), p.value("members", 0))});
  return render_table({"NAME", "CPUS", "MEMORY", "POLICY", "RUNNING/MEMBERS"}, rows);
}

// The members' allocations, one line each (the full record is `--json`).
std::string members_table(const json::Json& pool) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : pool.value("members", json::Json::array())) {
    std::string cpus = "-", memory = "-";
    if (m.contains("allocation") && m["allocation"].is_object()) {
      cpus = fmt::format("{:.3f}", m["allocation"].value("cpus", 0.0));
      memory = fmt::format("{} MiB", m["allocation"].value("memory_bytes", uint64_t{0}) >> 20);
    }
    std::string used = "-";
    if (m.contains("usage")) used = fmt::format("{:.2f} s, {} MiB", m["usage"].value("cpu_ns", uint64_t{0}) / 1e9,
                                                m["usage"].value("memory_bytes", uint64_t{0}) >> 20);
    std::string slice = "-";
    if (m.contains("slice_ms") && m["slice_ms"].is_number()) slice = fmt::format("{:g} ms", m["slice_ms"].get<double>());
    std::string priority = std::to_string(m.value("priority", 0)) + (m.value("best_effort", false) ? " (best-effort)" : "");
    // demand pools: the controller's estimate; VMs with a balloon: its target and actual size.
    std::string demand = "-", balloon = "-";
    if (m.contains("demand"))
      demand = fmt::format("{:.3f}, {} MiB", m["demand"].value("cpus", 0.0), m["demand"].value("memory_bytes", uint64_t{0}) >> 20);
    if (m.contains("balloon"))
      balloon = fmt::format("{} / {} MiB", m["balloon"].value("actual_mib", uint64_t{0}), m["balloon"].value("target_mib", uint64_t{0}));
    rows.push_back({m.value("name", ""), m.value("state", ""), fmt::format("{:g}", m.value("share", 1.0)), priority, cpus,
                    memory, slice, used, demand, balloon});
  }
  return render_table({"MEMBER", "STATE", "SHARE", "PRIORITY", "CPUS", "MEMORY", "SLICE", "USED (CPU, MEMORY)", "DEMAND",
                       "BALLOON (ACTUAL / TARGET)"},
                      rows);
}

void add_pool_create(CLI::App* pool, Context& ctx) {
  struct Flags {
    std::string name, memory, policy = "proportional", cpuset, round, on_shortage;
    double cpus = 0;
    bool hard = false;
  };
  auto f = std::make_shared<Flags>();
  auto* c = pool->add_subcommand("create", "create a pool: a size divided among its members by a policy");
  c->footer("Examples:\n  vessel pool create web --cpus 1 --memory 1G --policy proportional\n"
            "  vessel run --pool web --share 5 busybox -- sh -c 'while :; do :; done'\n"
            "  vessel pool create turns --cpus 1 --memory 1G --policy timeslice --round 100ms --cpuset 1\n"
            "Policies: fixed (each member's --cpus/--memory as a quota; a full pool refuses more), proportional\n"
            "(A_i = P_i / sum P x size, as weights; --hard: as quotas), priority (higher --priority gets its demand\n"
            "first), demand (vesseld's controller measures each member every --policy-period and moves its\n"
            "allocation toward its use; VMs run with --balloon get their memory through their balloon), timeslice\n"
            "(the running members take turns holding the pool's CPUs, T_i = A_i / sum A x round, A_i as proportional;\n"
            "the others are held at 0.1 % of a CPU meanwhile).\n"
            "Any policy: `vessel run --pool P --best-effort` runs a member SCHED_IDLE (cgroup cpu.idle).\n"
            "priority --on-shortage evict|suspend: when the running members' --memory add up to more than the pool,\n"
            "the lowest priority is stopped (evict) or suspended to disk (suspend; containers are stopped) until\n"
            "the rest fit; each is a `pool-shortage` event.");
  c->add_option("name", f->name, "pool name: letters, digits, '_', '.', '-'")->required();
  c->add_option("--cpus", f->cpus, "the pool's CPUs (fractions allowed)")->required();
  c->add_option("--memory,-m", f->memory, "the pool's memory: 1024, 512M, 2G (MiB by default)")->required();
  c->add_option("--policy", f->policy, "fixed, proportional, priority, demand or timeslice")->capture_default_str();
  c->add_flag("--hard", f->hard, "proportional/demand: allocations are quotas too (cpu.max, memory.max)");
  c->add_option("--round", f->round, "timeslice: the round W the members' turns fill, 10ms..10s (default 100ms)");
  c->add_option("--on-shortage", f->on_shortage,
                "priority: none (default), evict or suspend the lowest-priority members while memory is short");
  c->add_option("--cpuset", f->cpuset,
                "the CPUs the members run on, e.g. 1 or 0-3 (weights divide each CPU's time: pin a pool smaller "
                "than the host for exact shares)");
  c->callback([&ctx, f] {
    auto mib = parse_memory_mib(f->memory);
    if (!mib) { ctx.status = report(mib.error()); return; }
    json::Json body = {{"name", f->name}, {"cpus", f->cpus}, {"memory_mib", *mib}, {"policy", f->policy}, {"hard", f->hard}};
    if (!f->cpuset.empty()) body["cpuset"] = f->cpuset;
    if (!f->on_shortage.empty()) body["on_shortage"] = f->on_shortage;
    if (!f->round.empty()) {
      auto ms = parse_duration_ms(f->round);
      if (!ms) { ctx.status = report(ms.error().add_context("--round")); return; }
      body["round_ms"] = *ms;
    }
    auto r = ctx.client().call("POST", "/v1/pools", body);
    if (!r) { ctx.status = report(r.error()); return; }
    fmt::print("{}\n", r->value("name", f->name));
  });
}

void add_pool_set(CLI::App* pool, Context& ctx) {
  struct Flags {
    std::string name, memory, policy, round, on_shortage;
    std::optional<std::string> cpuset;
    std::optional<double> cpus;
    std::optional<bool> hard;
  };
  auto f = std::make_shared<Flags>();
  auto* c = pool->add_subcommand("set", "change a pool's size or policy, live: its running members get the new allocation");
  c->add_option("name", f->name, "pool name")->required();
  c->add_option("--cpus", f->cpus, "the pool's CPUs");
  c->add_option("--memory,-m", f->memory, "the pool's memory");
  c->add_option("--policy", f->policy, "fixed, proportional, priority, demand or timeslice");
  c->add_option("--hard", f->hard, "true or false");
  c->add_option("--round", f->round, "timeslice: the round the turns fill, 10ms..10s");
  c->add_option("--on-shortage", f->on_shortage, "priority: none, evict or suspend (another policy needs none)");
  c->add_option("--cpuset", f->cpuset, "the CPUs the members run on (\"\": all)");
  c->callback([&ctx, f] {
    json::Json body = json::Json::object();
    if (f->cpus) body["cpus"] = *f->cpus;
    if (!f->memory.empty()) {
      auto mib = parse_memory_mib(f->memory);
      if (!mib) { ctx.status = report(mib.error()); return; }
      body["memory_mib"] = *mib;
    }
    if (!f->policy.empty()) body["policy"] = f->policy;
    if (f->hard) body["hard"] = *f->hard;
    if (f->cpuset) body["cpuset"] = *f->cpuset;
    if (!f->on_shortage.empty()) body["on_shortage"] = f->on_shortage;
    if (!f->round.empty()) {
      auto ms = parse_duration_ms(f->round);
      if (!ms) { ctx.status = report(ms.error().add_context("--round")); return; }
      body["round_ms"] = *ms;
    }
    auto r = ctx.client().call("PATCH", "/v1/pools/" + escape_segment(f->name), body);
    if (!r) { ctx.status = report(r.error()); return; }
    fmt::print("{}\n", f->name);
  });
}

void add_pool_queries(CLI::App* pool, Context& ctx) {
  {
    auto as_json = std::make_shared<bool>(false);
    auto* c = pool->add_subcommand("ls", "list pools: size, policy, members");
    c->alias("list");
    c->add_flag("--json", *as_json, "print JSON");
    c->callback([&ctx, as_json] {
      auto r = ctx.client().call("GET", "/v1/pools");
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}", *as_json ? r->dump(2) + "\n" : pools_table(*r));
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    auto* c = pool->add_subcommand("inspect", "a pool's members: share, priority, allocation (CPUs, bytes), limits, usage");
    c->add_option("name", *name, "pool name")->required();
    c->add_flag("--json", *as_json, "print JSON: per member its allocation, the limits that carry it, the cgroup's values and usage");
    c->callback([&ctx, name, as_json] {
      auto r = ctx.client().call("GET", "/v1/pools/" + escape_segment(*name));
      if (!r) { ctx.status = report(r.error()); return; }
      if (*as_json) { fmt::print("{}\n", r->dump(2)); return; }
      std::string cpuset = r->value("cpuset", "");
      std::string policy = r->value("policy", "");
      if (policy == "timeslice") policy += fmt::format(" (round {} ms)", r->value("round_ms", 0));
      fmt::print("{}: {:g} CPUs{}, {} MiB, {}{}\n", r->value("name", ""), r->value("cpus", 0.0),
                 cpuset.empty() ? "" : " on CPUs " + cpuset, r->value("memory_mib", 0), policy,
                 r->value("hard", false) ? " (hard)" : "");
      fmt::print("{}", members_table(*r));
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = pool->add_subcommand("rm", "remove pools that have no members");
    c->alias("remove");
    c->add_option("names", *names, "pool names")->required();
    c->callback([&ctx, names] {
      for (const auto& n : *names) {
        auto r = ctx.client().call("DELETE", "/v1/pools/" + escape_segment(n));
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", n);
      }
    });
  }
}

}  // namespace

void add_pool_flags(CLI::App* c, PoolFlags& f) {
  c->add_option("--pool", f.pool, "join this pool (`vessel pool ls`): its policy sets this instance's CPU and memory");
  c->add_option("--share", f.share, "the pool's proportional share P_i (default 1)");
  c->add_option("--priority", f.priority, "the pool's priority: higher gets its demand first (default 0)");
  c->add_flag("--best-effort", f.best_effort,
              "run SCHED_IDLE: only on CPU time the pool's other members leave (cgroup cpu.idle where the kernel has it)");
}

Result<void> add_pool_to_spec(const PoolFlags& f, json::Json& spec) {
  if (f.pool.empty()) {
    if (f.share || f.priority || f.best_effort) return fail(EINVAL, "--share, --priority and --best-effort need --pool");
    return {};
  }
  json::Json p = {{"name", f.pool}};
  if (f.share) p["share"] = *f.share;
  if (f.priority) p["priority"] = *f.priority;
  if (f.best_effort) p["best_effort"] = true;
  spec["pool"] = p;
  return {};
}

void add_pool_commands(CLI::App& app, Context& ctx) {
  auto* pool = app.add_subcommand("pool", "manage pools: create, ls, inspect, set, rm");
  pool->require_subcommand(1);
  add_pool_create(pool, ctx);
  add_pool_set(pool, ctx);
  add_pool_queries(pool, ctx);
}

}  // namespace vessel::cli
