// cluster simulate (docs/cluster.md#simulator): the placement code on a synthetic cluster, here in
// the CLI (no vesseld, no etcd), timed.
#include "cli/commands.h"
#include "cluster/placement/simulator.h"

namespace vessel::cli {

void add_cluster_simulate(CLI::App* cluster, Context& ctx) {
  struct Flags {
    uint32_t nodes = 5000, instances = 50000;
    std::string policy = "spread";
    uint64_t seed = 1;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  auto* c = cluster->add_subcommand("simulate", "place synthetic instances on synthetic nodes with the scheduler's own code; report placements per second");
  c->footer("Nodes have 8, 16, 32 or 64 CPUs (4 GiB each), zone labels, 1 % cordoned and 1 % not ready; instances ask\n"
            "0.25-2 CPUs and 256 MiB-4 GiB, some with a label selector, affinity or anti-affinity. Each is placed\n"
            "in turn by the filters and the policy's score (docs/cluster.md#placement); only the placing is timed.\n"
            "Examples:\n  vessel cluster simulate\n  vessel cluster simulate --nodes 5000 --instances 50000 --policy proportional --json");
  c->add_option("--nodes", f->nodes, "simulated nodes")->capture_default_str()->check(CLI::Range(1u, 1000000u));
  c->add_option("--instances", f->instances, "instances placed one by one")->capture_default_str()->check(CLI::Range(1u, 10000000u));
  c->add_option("--policy", f->policy, "spread, binpack or proportional")->capture_default_str();
  c->add_option("--seed", f->seed, "seed of the synthetic cluster (the same seed, the same placements)")->capture_default_str();
  c->add_flag("--json", f->json, "print the report as JSON");
  c->callback([&ctx, f] {
    auto policy = cluster::placement::parse_policy(f->policy);
    if (!policy) { ctx.status = report(policy.error().add_context("--policy")); return; }
    auto r = cluster::placement::simulate({f->nodes, f->instances, *policy, f->seed});
    if (f->json) { fmt::print("{}\n", cluster::placement::report_json(r).dump(2)); return; }
    fmt::print("policy {}: {} instances on {} nodes: {} placed, {} unplaced in {:.3f} s: {:.0f} placements/s\n"
               "nodes used {}, CPU used per schedulable node: mean {:.1f} %, stddev {:.1f} %, max {:.1f} %\n"
               "largest distance from the proportional share A_i: {:.1f} instances\n",
               f->policy, f->instances, f->nodes, r.placed, r.unplaced, r.seconds, r.placements_per_second, r.nodes_used,
               r.cpu_used_mean * 100, r.cpu_used_stddev * 100, r.cpu_used_max * 100, r.largest_share_error);
  });
}

}  // namespace vessel::cli
