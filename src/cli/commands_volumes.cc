// volume create|ls|inspect|rm|prune (docs/daemon/volumes.md); run/create's -v, --mount and --tmpfs
// are in commands_instances.cc (mount_flags.h).
#include "cli/commands.h"
#include "cli/format.h"

namespace vessel::cli {

namespace {

std::string volumes_table(const json::Json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : list) {
    std::string used;
    for (const auto& u : v.value("used_by", json::Json::array())) used += (used.empty() ? "" : ",") + u.get<std::string>();
    rows.push_back({v.value("name", ""), v.value("driver", ""), used.empty() ? "-" : used, v.value("mountpoint", "")});
  }
  return render_table({"NAME", "DRIVER", "USED BY", "MOUNTPOINT"}, rows);
}

void add_volume_create(CLI::App* volume, Context& ctx) {
  struct Flags {
    std::string name;
    std::vector<std::string> labels;
  };
  auto f = std::make_shared<Flags>();
  auto* c = volume->add_subcommand("create", "create a named volume (a run with -v NAME:/path also makes one)");
  c->footer("Examples:\n  vessel volume create data\n  vessel run -v data:/var/lib/data busybox -- sh -c 'date >> /var/lib/data/log'");
  c->add_option("name", f->name, "volume name: letters, digits, '_', '.', '-'")->required();
  c->add_option("--label,-l", f->labels, "label KEY=VALUE (repeatable)")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c->callback([&ctx, f] {
    json::Json labels = json::Json::object();
    for (const auto& l : f->labels) {
      auto kv = parse_key_value(l, "--label");
      if (!kv) { ctx.status = report(kv.error()); return; }
      labels[kv->first] = kv->second;
    }
    auto r = ctx.client().call("POST", "/v1/volumes", json::Json{{"name", f->name}, {"labels", labels}});
    if (!r) { ctx.status = report(r.error()); return; }
    fmt::print("{}\n", r->value("name", f->name));
  });
}

void add_volume_queries(CLI::App* volume, Context& ctx) {
  {
    auto as_json = std::make_shared<bool>(false);
    auto quiet = std::make_shared<bool>(false);
    auto* c = volume->add_subcommand("ls", "list volumes and the instances that use them");
    c->alias("list");
    c->add_flag("--json", *as_json, "print JSON");
    c->add_flag("--quiet,-q", *quiet, "print the names only");
    c->callback([&ctx, as_json, quiet] {
      auto r = ctx.client().call("GET", "/v1/volumes");
      if (!r) { ctx.status = report(r.error()); return; }
      if (*as_json) { fmt::print("{}\n", r->dump(2)); return; }
      if (*quiet) {
        for (const auto& v : *r) fmt::print("{}\n", v.value("name", ""));
        return;
      }
      fmt::print("{}", volumes_table(*r));
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = volume->add_subcommand("inspect", "a volume as JSON: its directory, labels and users");
    c->add_option("names", *names, "volume names")->required();
    c->callback([&ctx, names] {
      json::Json out = json::Json::array();
      for (const auto& n : *names) {
        auto r = ctx.client().call("GET", "/v1/volumes/" + escape_segment(n));
        if (!r) ctx.status = report(r.error());
        else out.push_back(*r);
      }
      if (!out.empty()) fmt::print("{}\n", out.dump(2));
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = volume->add_subcommand("rm", "remove volumes and their files; refused while an instance names one");
    c->alias("remove");
    c->add_option("names", *names, "volume names")->required();
    c->callback([&ctx, names] {
      for (const auto& n : *names) {
        auto r = ctx.client().call("DELETE", "/v1/volumes/" + escape_segment(n));
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", n);
      }
    });
  }
  {
    auto as_json = std::make_shared<bool>(false);
    auto* c = volume->add_subcommand("prune", "remove every volume no instance names, with its files");
    c->add_flag("--json", *as_json, "print JSON: {\"deleted\": [...], \"space_reclaimed\": bytes}");
    c->callback([&ctx, as_json] {
      auto r = ctx.client().call("POST", "/v1/volumes/prune", json::Json::object());
      if (!r) { ctx.status = report(r.error()); return; }
      if (*as_json) { fmt::print("{}\n", r->dump(2)); return; }
      for (const auto& n : r->value("deleted", json::Json::array())) fmt::print("{}\n", n.get<std::string>());
      fmt::print("Total reclaimed space: {} bytes\n", r->value("space_reclaimed", uint64_t{0}));
    });
  }
}

}  // namespace

void add_volume_commands(CLI::App& app, Context& ctx) {
  auto* volume = app.add_subcommand("volume", "manage named volumes: create, ls, inspect, rm, prune");
  volume->require_subcommand(1);
  add_volume_create(volume, ctx);
  add_volume_queries(volume, ctx);
}

}  // namespace vessel::cli
