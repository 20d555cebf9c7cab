// vessel snapshot create|ls|restore|rm (docs/daemon/snapshots.md): named snapshots of a VM,
// memory, devices and disks at one instant.
#include <ctime>

#include "cli/commands.h"
#include "cli/format.h"

namespace vessel::cli {

namespace {

std::string path_of(const std::string& name) { return "/v1/instances/" + escape_segment(name) + "/snapshots"; }

std::string when(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string snapshots_table(const json::Json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : list)
    rows.push_back({s.value("name", ""), when(s.value("created", int64_t{0})), human_bytes(s.value("size", uint64_t{0})),
                    s.value("memory", false) ? "yes" : "no", std::to_string(s.contains("disks") ? s["disks"].size() : 0)});
  return render_table({"NAME", "CREATED (UTC)", "SIZE", "MEMORY", "DISKS"}, rows);
}

}  // namespace

void add_snapshot_commands(CLI::App& app, Context& ctx) {
  auto* snapshot = app.add_subcommand("snapshot", "named snapshots of a VM: memory, devices and disks at one instant");
  snapshot->require_subcommand(1);
  {
    auto name = std::make_shared<std::string>();
    auto snap = std::make_shared<std::string>();
    auto no_memory = std::make_shared<bool>(false);
    auto* c = snapshot->add_subcommand(
        "create", "snapshot a VM (running, paused or stopped); a running one goes on from the snapshot's instant");
    c->add_option("name", *name, "the VM")->required();
    c->add_option("snapshot", *snap, "the snapshot's name (default snapN)");
    c->add_flag("--no-memory", *no_memory, "the disks only (a stopped VM's snapshot never has memory)");
    c->callback([&ctx, name, snap, no_memory] {
      json::Json body = json::Json::object();
      if (!snap->empty()) body["name"] = *snap;
      if (*no_memory) body["memory"] = false;
      auto r = ctx.client().call("POST", path_of(*name), body);
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}\n", r->value("name", *snap));
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    auto* c = snapshot->add_subcommand("ls", "list a VM's snapshots: name, created, size on disk, with memory or not");
    c->alias("list");
    c->add_option("name", *name, "the VM")->required();
    c->add_flag("--json", *as_json, "print JSON: [{name, created, memory, size, disks}]");
    c->callback([&ctx, name, as_json] {
      auto r = ctx.client().call("GET", path_of(*name));
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}", *as_json ? r->dump(2) + "\n" : snapshots_table(*r));
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto snap = std::make_shared<std::string>();
    auto* c = snapshot->add_subcommand(
        "restore", "put a VM back to a snapshot: its process (if any) ends, it goes on from the snapshot's instant "
                   "(a disks-only snapshot leaves it stopped); the snapshot stays");
    c->add_option("name", *name, "the VM")->required();
    c->add_option("snapshot", *snap, "the snapshot")->required();
    c->callback([&ctx, name, snap] {
      auto r = ctx.client().call("POST", path_of(*name) + "/" + escape_segment(*snap) + "/restore");
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}\n", *name);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto snaps = std::make_shared<std::vector<std::string>>();
    auto* c = snapshot->add_subcommand("rm", "remove snapshots (their disk layers go once nothing else needs them)");
    c->alias("remove");
    c->add_option("name", *name, "the VM")->required();
    c->add_option("snapshots", *snaps, "the snapshots")->required();
    c->callback([&ctx, name, snaps] {
      for (const auto& s : *snaps) {
        auto r = ctx.client().call("DELETE", path_of(*name) + "/" + escape_segment(s));
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", s);
      }
    });
  }
}

}  // namespace vessel::cli
