// Suspend to disk (VMs), checkpoint and restore (containers): the manager's half. The backend
// saves the guest into the instance's directory and ends its process; the instance then holds no
// CPU or memory reservation until it is resumed, which admits it again. docs/daemon/suspend.md.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "base/fd.h"

#include "base/log.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

Result<void> Manager::save_locked(Entry& e, const InstanceRow& row, const InstanceSpec& spec, Action action,
                                  const ActOptions& options) {
  bool vm = spec.type == InstanceType::Vm;
  if (action == Action::Checkpoint && vm)
    return Unexpected(Error(ENOTSUP, fmt::format("{} is a VM: it is suspended, not checkpointed", row.name))
                          .with_hint(fmt::format("vessel suspend {}", row.name)));
  if (options.leave_running && vm) return fail(ENOTSUP, "--leave-running is for containers");
  if (!e.process || !e.process->alive()) return fail(ESRCH, "instance {} has no process", row.name);
  InstanceContext ctx{spec, dir_of(row.name), dir_of(row.name) + "/console.log", cgroup_of(row.name)};
  ctx.userns = TRY(userns_of(spec));  // an export writes the container's own ids
  // CRIU dumps running tasks; vessel-vmm snapshots a paused VM itself.
  if (!vm && row.state == to_string(State::Paused)) TRY_CTX(backend_for(spec).resume(ctx, *e.process), "{} {}", to_string(action), row.name);
  // The process is about to end on purpose: not an exit to record.
  if (!options.leave_running) monitor_->unwatch(row.name);
  auto saved = backend_for(spec).save(ctx, *e.process, SaveOptions{options.leave_running});
  if (!saved) {
    if (!options.leave_running) monitor_->watch(row.name, e.process->pidfd.get());
    return Unexpected(std::move(saved).error().add_context(fmt::format("{} {}", to_string(action), row.name)));
  }
  if (options.leave_running) {
    events_.publish({{"type", "instance-checkpointed"}, {"name", row.name}, {"leave_running", true}});
    return export_to(spec, ctx, options.export_path);
  }
  if (!e.process->wait_exit(std::chrono::seconds(10))) (void)e.process->signal(SIGKILL);
  e.process->wait_exit(std::chrono::seconds(5));
  e.process.reset();
  // The shim saw its container end (killed by CRIU): that is no exit of the guest's. Wait for
  // its exit file first (it drains the log pipe), so that it cannot land after the restore.
  if (!vm) (void)backend_for(spec).exit_info(ctx, nullptr);
  ::unlink((ctx.dir + "/" + kExitFile).c_str());
  release(ctx);
  State target = vm ? State::Suspended : State::Checkpointed;
  TRY(set_state(row.name, target, nullptr, to_string(action).data()));
  log::info("{} {}: saved in {}", row.name, to_string(target), ctx.dir);
  return export_to(spec, ctx, options.export_path);
}

Result<void> Manager::export_to(const InstanceSpec& spec, const InstanceContext& ctx, const std::string& path) {
  if (path.empty()) return {};
  auto exported = [&]() -> Result<void> {
    Fd fd = TRY(Fd::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    return backend_for(spec).export_saved(ctx, fd.get());
  }();
  if (!exported)
    return Unexpected(std::move(exported).error().add_context(
        fmt::format("{} is checkpointed, but its export to {} failed", spec.name, path)));
  return {};
}

Result<void> Manager::import_locked(InstanceRow& row, const InstanceSpec& spec, const std::string& path) {
  State from = parse_state(row.state).value_or(State::Stopped);
  if (spec.type == InstanceType::Vm) return fail(ENOTSUP, "--import is for containers");
  if (from != State::Created && from != State::Stopped && from != State::Checkpointed)
    return Unexpected(Error(EBUSY, fmt::format("cannot restore --import: instance is {}", row.state))
                          .with_hint("stop it first, or import into a created container"));
  InstanceContext ctx{spec, dir_of(row.name), dir_of(row.name) + "/console.log", cgroup_of(row.name)};
  ctx.userns = TRY(userns_of(spec));  // the import's ids land in the container's range
  Fd fd = TRY_CTX(Fd::open(path, O_RDONLY | O_CLOEXEC), "restore --import");
  TRY_CTX(backend_for(spec).import_saved(ctx, fd.get()), "import {}", path);
  TRY(set_state(row.name, State::Checkpointed, nullptr, "import"));
  row.state = to_string(State::Checkpointed);
  return {};
}

Result<void> Manager::restore_locked(Entry& e, const InstanceRow& row, const InstanceSpec& spec) {
  // Its reservation was given back when it was saved: start_locked admits it again (admission.cc).
  return start_locked(e, row, spec, nullptr, /*restoring=*/true);
}

Result<void> Manager::discard_saved_locked(const InstanceRow& row, const InstanceSpec& spec) {
  InstanceContext ctx{spec, dir_of(row.name), dir_of(row.name) + "/console.log", cgroup_of(row.name)};
  backend_for(spec).discard_saved(ctx);
  release(ctx);
  TRY(store_.set_instance_exit(row.name, std::nullopt, "saved state discarded"));
  return set_state(row.name, State::Stopped, nullptr, "stop");
}

}  // namespace vessel::daemon
