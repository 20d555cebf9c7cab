// policy simulate (docs/daemon/policy-simulate.md)
#include "base/fd.h"
#include "cli/commands.h"
#include "cli/format.h"

namespace vessel::cli {

namespace {

std::string report_table(const json::Json& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : r.value("members", json::Json::array())) {
    if (m.value("refused", false)) {
      rows.push_back({m.value("name", ""), fmt::format("{:g}", m.value("share", 1.0)), "refused", "-", "-", "-", "-"});
      continue;
    }
    rows.push_back({m.value("name", ""), fmt::format("{:g}", m.value("share", 1.0)),
                    fmt::format("{:.3f}", m.value("allocated_cpus", 0.0)), fmt::format("{:.3f}", m.value("used_cpus", 0.0)),
                    fmt::format("{:.0f}%", 100 * m.value("utilisation", 0.0)),
                    fmt::format("{} ms", m.value("waiting_ms", uint64_t{0})), std::to_string(m.value("sla_misses", 0))});
  }
  return render_table({"INSTANCE", "SHARE", "ALLOCATED CPUS", "USED CPUS", "UTILISATION", "WAITING", "SLA MISSES"}, rows) +
         fmt::format("policy {}, {} steps, Jain's fairness index {:.3f}\n", r.value("policy", ""), r.value("steps", 0),
                     r.value("jain", 0.0));
}

}  // namespace

void add_policy_commands(CLI::App& app, Context& ctx) {
  struct Flags {
    std::string trace, policy;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  auto* policy = app.add_subcommand("policy", "the allocation policies of pools, offline");
  policy->require_subcommand(1);
  auto* c = policy->add_subcommand(
      "simulate", "replay a workload trace through the pools' allocation code: allocations, use, waiting, fairness");
  c->footer(
      "The trace is JSON: a pool and timed events (docs/daemon/policy-simulate.md):\n"
      "  {\"pool\": {\"cpus\": 1, \"memory_mib\": 1024, \"policy\": \"proportional\"}, \"step_ms\": 100,\n"
      "   \"events\": [{\"at_ms\": 0, \"arrive\": \"a\", \"share\": 1, \"demand_cpus\": 1},\n"
      "              {\"at_ms\": 2000, \"demand\": \"a\", \"demand_cpus\": 0.2}, {\"at_ms\": 5000, \"leave\": \"a\"}]}\n"
      "vesseld runs the very code that allocates its pools; nothing on the host changes.\n"
      "Example:\n  vessel policy simulate --trace web.json --policy priority");
  c->add_option("--trace", f->trace, "the trace file (JSON)")->required();
  c->add_option("--policy", f->policy, "replace the trace's policy: fixed, proportional, priority, demand or timeslice");
  c->add_flag("--json", f->json, "the whole report as JSON");
  c->callback([&ctx, f] {
    auto text = read_file(f->trace);
    if (!text) { ctx.status = report(text.error().add_context("read the trace")); return; }
    auto trace = json::parse(*text, 16 << 20);
    if (!trace) { ctx.status = report(trace.error().add_context(f->trace)); return; }
    std::string path = "/v1/policy/simulate";
    if (!f->policy.empty()) path += "?policy=" + escape_segment(f->policy);
    auto r = ctx.client().call("POST", path, *trace);
    if (!r) { ctx.status = report(r.error()); return; }
    if (f->json) fmt::print("{}\n", json::dump(*r, 2));
    else fmt::print("{}", report_table(*r));
  });
}

}  // namespace vessel::cli
