// The verbs of `vessel`, registered on a CLI11 app. Each verb's callback stores its exit status
// in Context::status; errors are printed as "vessel: error: ... (hint)".
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "cli/client.h"

namespace vessel::cli {

struct Context {
  std::string socket;
  Remote remote;  // --remote: vesseld over TLS instead of the socket
  int status = 0;
  Client client() const { return Client(socket, remote); }
};

void add_instance_commands(CLI::App& app, Context& ctx);
void add_observe_commands(CLI::App& app, Context& ctx);
void add_image_commands(CLI::App& app, Context& ctx);
// image pull, image tag, login, logout (commands_registry.cc, docs/daemon/registry.md)
void add_registry_commands(CLI::App& app, CLI::App& image, Context& ctx);
// POST /v1/images/pull with the user's credentials for the registry; a bar on a terminal unless
// quiet, the daemon's JSON progress lines on stdout when json_lines. Returns the image's name.
Result<std::string> pull_image(Client& client, const std::string& ref, bool quiet, bool json_lines);
void add_host_commands(CLI::App& app, Context& ctx);
// network create/ls/inspect/rm, port (commands_networks.cc)
void add_network_commands(CLI::App& app, Context& ctx);
// pool create/ls/inspect/set/rm, and run/create's --pool/--share/--priority (commands_pools.cc)
void add_pool_commands(CLI::App& app, Context& ctx);
void add_volume_commands(CLI::App& app, Context& ctx);
// cluster ls|inspect|cordon|uncordon|simulate (commands_cluster*.cc, docs/cluster.md)
void add_cluster_commands(CLI::App& app, Context& ctx);
void add_cluster_simulate(CLI::App* cluster, Context& ctx);
// cluster drain, migrate --to NODE (commands_cluster_moves.cc)
void add_cluster_drain(CLI::App* cluster, Context& ctx);
bool is_node_name(const std::string& to);
int migrate_to_node(Context& ctx, const std::string& name, const std::string& node, bool as_json, bool quiet);
// policy simulate (commands_policy.cc, docs/daemon/policy-simulate.md)
void add_policy_commands(CLI::App& app, Context& ctx);
struct PoolFlags {
  std::string pool;
  std::optional<double> share;
  std::optional<int> priority;
  bool best_effort = false;
};
void add_pool_flags(CLI::App* create, PoolFlags& flags);
Result<void> add_pool_to_spec(const PoolFlags& flags, json::Json& spec);
// build (commands_build.cc, docs/daemon/build.md)
void add_build_command(CLI::App& app, Context& ctx);
// cp (commands_cp.cc, docs/daemon/cp.md)
void add_cp_command(CLI::App& app, Context& ctx);
// Copies a local file or tree into NAME:DST as `vessel cp SRC NAME:DST -q` does.
Result<void> copy_to_instance(Client& client, const std::string& src, const std::string& name, const std::string& dst);
// bench overhead (commands_bench.cc, docs/benchmarks/overhead.md)
void add_bench_commands(CLI::App& app, Context& ctx);
// suspend, checkpoint, restore (commands_suspend.cc, docs/daemon/suspend.md)
void add_suspend_commands(CLI::App& app, Context& ctx);
// snapshot create|ls|restore|rm (commands_snapshots.cc, docs/daemon/snapshots.md)
void add_snapshot_commands(CLI::App& app, Context& ctx);
// export, import (commands_backup.cc, docs/daemon/backup.md)
void add_backup_commands(CLI::App& app, Context& ctx);
// migrate (commands_migrate.cc, docs/daemon/migrate.md)
void add_migrate_command(CLI::App& app, Context& ctx);
// wait, console, exec (attach.cc)
void add_attach_commands(CLI::App& app, Context& ctx);
// Raw bytes between this terminal and a VM's serial console or a container's terminal, until it
// ends (false) or Ctrl-] detaches (true) (vessel console, vessel run -t).
Result<bool> console(const Context& ctx, const std::string& name);
// A container run with -i and no terminal: this stdin feeds its stdin (until EOF, once) while
// its output is printed; then its exit status (vessel run -i, vessel attach).
Result<int> attach_stdin(const Context& ctx, const std::string& name);
// Prints the instance's log until it stops (run --attach, attach).
Result<void> follow_logs(Client& client, const std::string& name);
// Waits until the instance has stopped: vesseld's {name, state, exit_code, exit_reason}.
Result<json::Json> wait_instance(Client& client, const std::string& name);
// The exit status in that answer; an error when it is unknown.
Result<int> exit_status_of(const json::Json& answer, const std::string& name);
// --remote/--client-cert/--client-key/--server-fingerprint/--server-ca (and their VESSEL_*
// environment variables), and `trust add|ls|rm`.
void add_remote_flags(CLI::App& app, Context& ctx);
void add_trust_commands(CLI::App& app, Context& ctx);

// Prints the error and returns kExitFailure (or kExitUsage for EINVAL raised by the CLI itself).
int report(const Error& error);

// The bash completion script (`vessel completion bash`).
const char* bash_completion();

}  // namespace vessel::cli
