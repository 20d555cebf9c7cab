// vessel kill (Docker's `docker kill`, docs/daemon/run.md): a signal to a running instance. A
// container's main process gets it through the runtime; a VM takes only KILL (its vessel-vmm
// ends at once; `vessel stop` asks the guest to shut down). The exit is recorded as any other.
#include <signal.h>

#include "daemon/instances/container_backend.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

Result<void> Backend::kill(const InstanceContext&, const GuestProcess& proc, int sig) {
  if (sig != SIGKILL)
    return Unexpected(Error(ENOTSUP, fmt::format("a VM takes only the signal KILL, not {}", sig))
                          .with_hint("`vessel stop` asks its guest to shut down; `vessel kill` (KILL) ends it at once"));
  return proc.signal(SIGKILL);
}

Result<void> ContainerBackend::kill(const InstanceContext& ctx, const GuestProcess&, int sig) {
  TRY(run_tool(command({"kill", ctx.spec.name, std::to_string(sig)})));
  return {};
}

Result<json::Json> Manager::kill(const std::string& name, int sig) {
  auto e = entry(name);
  std::lock_guard lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  if (row.state != to_string(State::Running) || !e->process)
    return Unexpected(Error(EBUSY, fmt::format("cannot signal {}: it is {}", name, row.state))
                          .with_hint(row.state == to_string(State::Paused) ? "resume it first" : "only a running instance takes signals"));
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
  TRY_CTX(backend_for(spec).kill(ctx, *e->process, sig), "kill {}", name);
  events_.publish({{"type", "instance-signal"}, {"name", name}, {"signal", sig}});
  return describe(row);
}

}  // namespace vessel::daemon
