// Moving clustered instances by hand (docs/cluster.md#drain-and-migrate): `vessel cluster drain
// NODE` and `vessel migrate NAME --to NODE`. Both stream vesseld's steps as JSON lines and print
// one progress line per step on stderr; the report goes to stdout (--json: as JSON).
#include "cli/commands.h"
#include "cli/progress_lines.h"

namespace vessel::cli {

namespace {

std::string live_note(const json::Json& report) {
  if (!report.value("live", false)) return "";
  return fmt::format(" (live, downtime {:.2f} ms)", report.value("downtime_ms", 0.0));
}

// One line per step of a move (ClusterMover's steps, src/daemon/api/cluster_mover.h).
std::string move_step_text(const json::Json& step) {
  std::string what = step.value("progress", "");
  std::string name = step.value("name", "");
  if (what == "cordoned") return fmt::format("cordoned {}: it gets no new placements", step.value("node", ""));
  if (what == "stop") return fmt::format("{}: stopping it on {} (it moves to {})", name, step.value("from", ""), step.value("to", ""));
  if (what == "live")
    return fmt::format("{}: live-migrating it from {} to {}", name, step.value("from", ""), step.value("to", ""));
  if (what == "live-failed") return fmt::format("{}: the live migration failed ({}); moving it cold", name, step.value("error", ""));
  if (what == "move") return fmt::format("{}: assigning it to {}", name, step.value("to", ""));
  if (what == "start")
    return fmt::format("{}: starting it on {} (generation {})", name, step.value("to", ""), step.value("generation", 0));
  if (what == "moved") {
    const auto& r = step.contains("report") ? step["report"] : json::Json::object();
    return fmt::format("{}: moved from {} to {} in {:.2f} s{}", r.value("name", ""), r.value("from", ""), r.value("to", ""),
                       r.value("seconds", 0.0), live_note(r));
  }
  if (what == "failed") return fmt::format("{}: not moved: {}", name, step.value("error", ""));
  return {};
}

// POSTs with ?progress=1; each step is printed unless quiet; the result, or the error reported.
Result<json::Json> stepped_call(Context& ctx, const std::string& path, const json::Json& body, bool quiet) {
  ProgressLines lines(false, [quiet](const std::string&, const json::Json& line) {
    if (quiet || !line.contains("progress")) return;
    if (auto text = move_step_text(line); !text.empty()) fmt::print(stderr, "{}\n", text);
  });
  TRY(ctx.client().stream("POST", path, body.is_null() ? "" : body.dump(),
                          [&lines](std::string_view d) { return lines.feed(d); }));
  return lines.finish();
}

}  // namespace

bool is_node_name(const std::string& to) {
  if (to.empty() || to == "local" || to.size() > 63 || to.front() == '-' || to.back() == '-') return false;
  for (char c : to)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

int migrate_to_node(Context& ctx, const std::string& name, const std::string& node, bool as_json, bool quiet) {
  auto r = stepped_call(ctx, "/v1/instances/" + escape_segment(name) + "/migrate?progress=1", {{"node", node}},
                        quiet || as_json);
  if (!r) return report(r.error());
  if (as_json) fmt::print("{}\n", json::dump(*r));
  else
    fmt::print("{} moved from {} to {} (generation {}) in {:.2f} s{}\n", name, r->value("from", ""), r->value("to", ""),
               r->value("generation", 0), r->value("seconds", 0.0), live_note(*r));
  return 0;
}

void add_cluster_drain(CLI::App* cluster, Context& ctx) {
  struct Flags {
    std::string node;
    bool json = false, quiet = false;
  };
  auto f = std::make_shared<Flags>();
  auto* c = cluster->add_subcommand(
      "drain", "cordon a node, then move each of its clustered instances to other nodes, one after another");
  c->add_option("node", f->node, "the node to empty")->required();
  c->add_flag("--json", f->json, "print the report as JSON: {node, moved: [{name, from, to, generation, seconds}], "
                                 "failed: [{name, error}], seconds}");
  c->add_flag("--quiet,-q", f->quiet, "no progress lines");
  c->footer("Each instance moves as `vessel migrate NAME --to NODE` moves it: its copy on the drained node is\n"
            "stopped first, then the record names the new node at the next generation and that node starts it.\n"
            "The new node is chosen by the instance's placement rules (--constraint, --affinity) and spread.\n"
            "It is a cold move (a VM boots again there); what is in the instance's directory stays behind.\n"
            "The node stays cordoned: `vessel cluster uncordon NODE` takes new placements again.\n"
            "Exit status 1 when an instance could not be moved (it stays where it was; the report says why).\n"
            "Example:\n  vessel cluster drain node-2");
  c->callback([&ctx, f] {
    auto r = stepped_call(ctx, "/v1/cluster/nodes/" + escape_segment(f->node) + "/drain?progress=1", nullptr,
                          f->quiet || f->json);
    if (!r) {
      ctx.status = report(r.error());
      return;
    }
    const auto& failed = r->contains("failed") ? (*r)["failed"] : json::Json::array();
    if (f->json) fmt::print("{}\n", json::dump(*r));
    else
      fmt::print("{} drained: {} moved, {} not moved, {:.2f} s\n", f->node, r->value("moved", json::Json::array()).size(),
                 failed.size(), r->value("seconds", 0.0));
    if (!failed.empty()) ctx.status = 1;
  });
}

}  // namespace vessel::cli
