// suspend, checkpoint, restore (docs/daemon/suspend.md); `resume` (commands_instances.cc) also
// brings back a suspended VM or a checkpointed container.
#include <unistd.h>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/local_path.h"

namespace vessel::cli {

void add_suspend_commands(CLI::App& app, Context& ctx) {
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = app.add_subcommand("suspend",
                                 "save instances to disk and end their processes, releasing their CPU and memory "
                                 "(VM: snapshot; container: CRIU checkpoint); `vessel resume` brings them back");
    c->add_option("names", *names, "instance names")->required();
    c->callback([&ctx, names] {
      auto client = ctx.client();
      for (const auto& n : *names) {
        auto r = client.call("POST", "/v1/instances/" + escape_segment(n) + "/suspend");
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", n);
      }
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto leave_running = std::make_shared<bool>(false);
    auto export_file = std::make_shared<std::string>();
    auto* c = app.add_subcommand("checkpoint", "checkpoint containers to disk with CRIU (`vessel restore` brings them back)");
    c->add_option("names", *names, "container names")->required();
    c->add_flag("--leave-running,-R", *leave_running, "keep the container running after the checkpoint");
    c->add_option("--export,-e", *export_file, "also write the checkpoint to this tar file (on vesseld's host)");
    c->callback([&ctx, names, leave_running, export_file] {
      if (!export_file->empty() && names->size() != 1) {
        ctx.status = report(Error(EINVAL, "--export takes one container"));
        return;
      }
      auto client = ctx.client();
      json::Json body = json::Json::object();
      if (*leave_running) body["leave_running"] = true;
      if (!export_file->empty()) body["export"] = absolute_path(*export_file);
      for (const auto& n : *names) {
        auto r = client.call("POST", "/v1/instances/" + escape_segment(n) + "/checkpoint", body);
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", n);
      }
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto import_file = std::make_shared<std::string>();
    auto* c = app.add_subcommand("restore", "restore checkpointed containers; they go on where they were");
    c->add_option("names", *names, "container names")->required();
    c->add_option("--import,-i", *import_file,
                  "restore from this exported checkpoint (a tar on vesseld's host) into a created or stopped container");
    c->callback([&ctx, names, import_file] {
      if (!import_file->empty() && names->size() != 1) {
        ctx.status = report(Error(EINVAL, "--import takes one container"));
        return;
      }
      auto client = ctx.client();
      json::Json body = json::Json::object();
      if (!import_file->empty()) body["import"] = absolute_path(*import_file);
      for (const auto& n : *names) {
        auto r = client.call("POST", "/v1/instances/" + escape_segment(n) + "/restore", body);
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", n);
      }
    });
  }
}

}  // namespace vessel::cli
