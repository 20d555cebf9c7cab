// cluster ls|inspect|cordon|uncordon (docs/cluster.md): the nodes of the cluster this vesseld is
// in, as etcd has them. `cluster simulate` is in commands_cluster_simulate.cc.
#include "cli/commands.h"
#include "cli/format.h"

namespace vessel::cli {

namespace {

std::string labels_text(const json::Json& labels) {
  std::string out;
  if (!labels.is_object()) return "-";
  for (const auto& [k, v] : labels.items()) out += (out.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : "");
  return out.empty() ? "-" : out;
}

std::string nodes_table(const json::Json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : list)
    rows.push_back({n.value("name", "") + (n.value("local", false) ? " *" : ""), n.value("status", ""),
                    fmt::format("{:g}", n.value("cpus", 0.0)), std::to_string(n.value("memory_mib", uint64_t{0})) + " MiB",
                    labels_text(n.value("labels", json::Json::object())), n.value("advertise", "")});
  return render_table({"NAME", "STATUS", "CPUS", "MEMORY", "LABELS", "ADDRESS"}, rows);
}

std::string node_text(const json::Json& n) {
  auto tls = n.value("tls", json::Json::object());
  std::string key = tls.is_object() ? tls.value("pubkey_sha256", "") : "";
  return fmt::format("Name:     {}{}\nStatus:   {}\nCPUs:     {:g}\nMemory:   {} MiB\nLabels:   {}\nAddress:  {}\n"
                     "TLS key:  {}\nVersion:  {}\nJoined:   {}\n",
                     n.value("name", ""), n.value("local", false) ? " (this node)" : "", n.value("status", ""),
                     n.value("cpus", 0.0), n.value("memory_mib", uint64_t{0}), labels_text(n.value("labels", json::Json::object())),
                     n.value("advertise", ""), key.empty() ? "none (no --listen)" : "sha256 " + key, n.value("version", ""),
                     n.value("joined", ""));
}

void add_cluster_queries(CLI::App* cluster, Context& ctx) {
  {
    auto as_json = std::make_shared<bool>(false);
    auto* c = cluster->add_subcommand("ls", "list the cluster's nodes: status, capacity, labels, address");
    c->alias("list");
    c->footer("STATUS is ready (its lease is alive), cordoned (ready, but no new placements) or not-ready (its lease\n"
              "expired: the node died, stopped or lost etcd for longer than its --lease-ttl). '*' marks the node\n"
              "whose vesseld answered.");
    c->add_flag("--json", *as_json, "print JSON (an array of the nodes' records)");
    c->callback([&ctx, as_json] {
      auto r = ctx.client().call("GET", "/v1/cluster/nodes");
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}", *as_json ? r->dump(2) + "\n" : nodes_table(*r));
    });
  }
  {
    struct Flags { std::string name; bool json = false; };
    auto f = std::make_shared<Flags>();
    auto* c = cluster->add_subcommand("inspect", "show one node: status, capacity, labels, address, version");
    c->add_option("node", f->name, "node name")->required();
    c->add_flag("--json", f->json, "print JSON");
    c->callback([&ctx, f] {
      auto r = ctx.client().call("GET", "/v1/cluster/nodes/" + escape_segment(f->name));
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}", f->json ? r->dump(2) + "\n" : node_text(*r));
    });
  }
}

void add_cordon(CLI::App* cluster, Context& ctx, const std::string& verb, const std::string& help) {
  auto name = std::make_shared<std::string>();
  auto* c = cluster->add_subcommand(verb, help);
  c->add_option("node", *name, "node name")->required();
  c->callback([&ctx, name, verb] {
    auto r = ctx.client().call("POST", "/v1/cluster/nodes/" + escape_segment(*name) + "/" + verb);
    if (!r) { ctx.status = report(r.error()); return; }
    fmt::print("{}\n", *name);
  });
}

}  // namespace

void add_cluster_commands(CLI::App& app, Context& ctx) {
  auto* cluster = app.add_subcommand("cluster", "the nodes of a cluster kept in etcd (vesseld --cluster)");
  cluster->require_subcommand(1);
  cluster->footer("A vesseld started with --node NAME --cluster http://ETCD:2379 joins the cluster: it registers its\n"
                  "capacity and labels and keeps a lease alive (default TTL 5 s). Any member answers these commands.\n"
                  "Examples:\n  vessel cluster ls\n  vessel cluster inspect node-2 --json\n  vessel cluster cordon node-2\n"
                  "  vessel cluster simulate --nodes 5000 --instances 50000 --policy spread\n"
                  "Instances the cluster places, and moves off a dead node when their restart policy asks:\n"
                  "  vessel run --cluster-wide --name web --restart always --rootfs /srv/rootfs -- /bin/httpd -f\n"
                  "  vessel ls            (the NODE column says where each runs)\n"
                  "stop, start, rm, logs, exec and inspect act on a clustered instance from any member; `vessel\n"
                  "migrate NAME --to NODE` moves one.\n"
                  "See docs/cluster.md.");
  add_cluster_queries(cluster, ctx);
  add_cordon(cluster, ctx, "cordon", "mark a node unschedulable: it gets no new placements; what runs there stays");
  add_cordon(cluster, ctx, "uncordon", "make a cordoned node schedulable again");
  add_cluster_drain(cluster, ctx);
  add_cluster_simulate(cluster, ctx);
}

}  // namespace vessel::cli
