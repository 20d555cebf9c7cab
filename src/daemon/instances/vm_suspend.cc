// VMs suspended to disk: a Full vessel-vmm snapshot (docs/vmm/snapshot.md) written into the run
// directory, moved to INSTANCE/suspended, the VMM ended; resume boots a fresh vessel-vmm (through
// vessel-jailer like any start) with --restore-snapshot/--restore-mem on hard links of those files
// in the new run directory, which the jail shows at /vessel-run. docs/daemon/suspend.md.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "daemon/instances/vm_backend.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

namespace {

// In INSTANCE/suspended.
constexpr const char* kSavedState = "vm.state";
constexpr const char* kSavedMem = "vm.mem";
// In the run directory: what the snapshot writes, and the links a restored VMM loads (distinct:
// a restored VM never writes a snapshot over the memory file it still maps).
constexpr const char* kWrittenState = "save.state";
constexpr const char* kWrittenMem = "save.mem";
constexpr const char* kLoadedState = "restore.state";
constexpr const char* kLoadedMem = "restore.mem";

std::string saved_dir(const InstanceContext& ctx) { return ctx.dir + "/suspended"; }
std::string run_dir(const InstanceContext& ctx) { return ctx.dir + "/run"; }

// The run directory belongs to the VM's uid: take only regular files from it, never a link.
Result<void> regular(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return fail_errno("{}", path);
  if (!S_ISREG(st.st_mode)) return fail(EPERM, "{} is not a regular file", path);
  return {};
}

Result<void> move(const std::string& from, const std::string& to) {
  TRY(regular(from));
  if (::rename(from.c_str(), to.c_str()) != 0) return fail_errno("rename {} to {}", from, to);
  return {};
}

}  // namespace

Result<void> VmBackend::save(const InstanceContext& ctx, const GuestProcess& proc, const SaveOptions& o) {
  if (o.leave_running) return fail(ENOTSUP, "a VM cannot be suspended and left running");
  auto status = json::parse(TRY(api(ctx, "GET", "/"))).value_or(json::Json::object());
  bool was_paused = status.is_object() && status.value("state", "") == "Paused";
  if (!was_paused) TRY(api(ctx, "PATCH", "/vm", {{"state", "Paused"}}));
  // Whatever fails from here leaves the VM as it was: running (or paused), nothing saved.
  auto undo = [&](Error e) -> Result<void> {
    discard_saved(ctx);
    if (!was_paused) (void)api(ctx, "PATCH", "/vm", {{"state", "Resumed"}});
    return Unexpected(std::move(e));
  };
  std::string in = jail_.enabled ? std::string(kJailRunDir) : run_dir(ctx);
  auto snap = api(ctx, "PUT", "/snapshot/create",
                  {{"snapshot_type", "Full"}, {"snapshot_path", in + "/" + kWrittenState},
                   {"mem_file_path", in + "/" + kWrittenMem}});
  if (!snap) return undo(std::move(snap).error());
  // Out of the run directory, which the next start empties.
  discard_saved(ctx);
  if (::mkdir(saved_dir(ctx).c_str(), 0700) != 0) return undo(Error::from_errno("mkdir " + saved_dir(ctx)));
  for (auto [from, to] : {std::pair{kWrittenState, kSavedState}, std::pair{kWrittenMem, kSavedMem}})
    if (auto moved = move(run_dir(ctx) + "/" + from, saved_dir(ctx) + "/" + to); !moved)
      return undo(std::move(moved).error());
  (void)proc.signal(SIGKILL);
  cgroup_hurry_killed(ctx.cgroup, proc.pid);
  if (!proc.wait_exit(std::chrono::seconds(10))) return fail(ETIMEDOUT, "vessel-vmm of {} did not die", ctx.spec.name);
  cleanup(ctx);
  return {};
}

Result<std::vector<std::string>> VmBackend::place_saved(const InstanceContext& ctx) {
  for (auto [saved, loaded] : {std::pair{kSavedState, kLoadedState}, std::pair{kSavedMem, kLoadedMem}}) {
    std::string from = saved_dir(ctx) + "/" + saved, to = run_dir(ctx) + "/" + loaded;
    auto ok = regular(from);
    if (!ok) return Unexpected(std::move(ok).error().add_context(fmt::format("{} has no saved snapshot", ctx.spec.name)));
    // A link, not a move: a resume that fails keeps the snapshot for the next try.
    if (::link(from.c_str(), to.c_str()) != 0) return fail_errno("link {} to {}", from, to);
  }
  std::string in = jail_.enabled ? std::string(kJailRunDir) : run_dir(ctx);
  return std::vector<std::string>{"--restore-snapshot", in + "/" + kLoadedState, "--restore-mem", in + "/" + kLoadedMem};
}

Result<void> VmBackend::own_placed(const InstanceContext& ctx, uid_t id) {
  for (const char* name : {kLoadedState, kLoadedMem, kMigrationTokenFile}) {
    std::string path = run_dir(ctx) + "/" + name;
    if (::fchownat(AT_FDCWD, path.c_str(), id, id, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT)
      return fail_errno("chown {}", path);
  }
  return {};
}

Result<GuestProcess> VmBackend::restore_saved(const InstanceContext& ctx, const BootSource& boot) {
  auto proc = TRY(launch(ctx, boot, true));
  discard_saved(ctx);  // the VM runs from the links in its run directory
  return proc;
}

void VmBackend::discard_saved(const InstanceContext& ctx) {
  std::error_code ec;
  std::filesystem::remove_all(saved_dir(ctx), ec);
}

}  // namespace vessel::daemon
