// What the instance manager asks of a backend (vessel-runtime for containers, vessel-vmm for
// VMs). Backends keep no state of their own between calls: everything they need is in the
// instance's directory and its spec, so a restarted vesseld can carry on where it left off.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/images/boot_source.h"
#include "daemon/instances/backup_archive.h"
#include "daemon/instances/exec_session.h"
#include "daemon/instances/exit_status.h"
#include "daemon/instances/guest_process.h"
#include "daemon/instances/state.h"
#include "daemon/network/vm_nic.h"
#include "daemon/policy/id_pool.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {

struct InstanceContext {
  const InstanceSpec& spec;
  std::string dir;          // <state>/instances/<name>
  std::string log_path;     // console / stdout+stderr capture
  std::string cgroup;       // "/vessel/<name>"
  LogLimits log;            // the cap of log_path (the spec's, else vesseld's --log-opt)
  std::optional<IdRange> userns;  // containers with --userns=auto: their host ids (set by start)
  // Containers' network namespace (set by start, network/networks.h): "" a new one (loopback
  // only), "host" the host's, else the path of the netns vesseld made for it.
  std::string netns;
  // Host files bind-mounted read-only over the container's (destination, source): its generated
  // /etc/resolv.conf and /etc/hosts on a bridge network (set by start).
  std::vector<std::pair<std::string, std::string>> etc_files;
  // Containers' mounts (docs/daemon/volumes.md) with their host sources: a bind's path, a named
  // volume's directory, nothing for a tmpfs (set by start).
  std::vector<std::pair<MountSpec, std::string>> mounts;
  // VMs on a bridge network: the tap to make for it and what the guest is told (set by start).
  std::optional<VmNic> nic;
  // exec(): how long the command may run (health checks: their --health-timeout).
  std::chrono::milliseconds exec_timeout = std::chrono::minutes(10);
};

// vessel-shim's options for the instance's size-capped, rotating log (docs/daemon/console.md).
inline std::vector<std::string> log_relay_args(const InstanceContext& ctx) {
  return {"--log", ctx.log_path, "--log-max-size", std::to_string(ctx.log.max_size), "--log-max-file",
          std::to_string(ctx.log.max_files)};
}

// Suspend to disk and checkpoint (docs/daemon/suspend.md).
struct SaveOptions {
  bool leave_running = false;  // containers: `vessel checkpoint --leave-running`
};

// A process waiting for a guest by live migration (docs/daemon/migrate.md), and where it listens.
struct IncomingGuest {
  GuestProcess process;
  std::string url;    // "unix:/host/path": on this host, as vesseld sees it; or "tcp:ADDRESS:PORT"
  std::string token;  // tcp: what the sender must send first (64 hex digits)
};

struct ExecResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Can this host start guests of this kind at all (VMs: a working KVM)? Asked before a run
  // creates its instance and before every start; the error says why not and what to do.
  virtual Result<void> preflight() { return {}; }
  // Starts the guest; returns its process (vessel-vmm, or the container's init).
  virtual Result<GuestProcess> start(const InstanceContext& ctx, const BootSource& boot) = 0;
  // Graceful stop (CtrlAltDel / SIGTERM), forced after `timeout`; then cleanup().
  virtual Result<void> stop(const InstanceContext& ctx, const GuestProcess& proc, std::chrono::seconds timeout) = 0;
  virtual Result<void> pause(const InstanceContext& ctx, const GuestProcess& proc) = 0;
  virtual Result<void> resume(const InstanceContext& ctx, const GuestProcess& proc) = 0;
  // `vessel kill -s SIG`: the signal to the guest's main process (containers), or KILL to a VM's
  // vessel-vmm. Its exit, if it ends, is seen as any other.
  virtual Result<void> kill(const InstanceContext& ctx, const GuestProcess& proc, int sig);
  // Releases what a stopped guest still holds (runtime state, cgroup); idempotent.
  virtual void cleanup(const InstanceContext& ctx) = 0;
  // Is the adopted process running or paused (after a vesseld restart)?
  virtual Result<State> probe(const InstanceContext& ctx, const GuestProcess& proc) = 0;
  virtual Result<ExecResult> exec(const InstanceContext& ctx, const std::vector<std::string>& argv) = 0;
  // How the guest ended, after its process exited (proc: null when vesseld never had it): the
  // exit file in ctx.dir, waiting up to `wait` for it (the writer may still drain the log), else
  // the wait status. The two-argument form waits exit_file_wait().
  virtual ExitInfo exit_info(const InstanceContext& ctx, const GuestProcess* proc, std::chrono::milliseconds wait);
  ExitInfo exit_info(const InstanceContext& ctx, const GuestProcess* proc) { return exit_info(ctx, proc, exit_file_wait()); }
  virtual std::chrono::milliseconds exit_file_wait() const { return std::chrono::milliseconds(0); }
  // vessel cp (docs/daemon/cp.md): the directory on the host that is the guest's root, made
  // reachable for the call when the guest does not run (`running`: it runs or is paused);
  // release_files() undoes what this did. Called under the instance's lock.
  virtual Result<std::string> mount_files(const InstanceContext& ctx, const BootSource&, bool) {
    return Unexpected(Error(ENOTSUP, fmt::format("copying files of {} is not supported", ctx.spec.name)));
  }
  virtual void release_files(const InstanceContext&, bool) {}
  // Saves the running guest into ctx.dir (containers: a CRIU checkpoint; VMs: a vessel-vmm
  // snapshot) and ends its process unless `leave_running`. docs/daemon/suspend.md.
  virtual Result<void> save(const InstanceContext& ctx, const GuestProcess&, const SaveOptions&) {
    return Unexpected(Error(ENOTSUP, fmt::format("saving {} to disk is not supported", ctx.spec.name)));
  }
  // Starts the guest again from what save() left in ctx.dir, then forgets that.
  virtual Result<GuestProcess> restore_saved(const InstanceContext& ctx, const BootSource&) {
    return Unexpected(Error(ENOTSUP, fmt::format("restoring {} from disk is not supported", ctx.spec.name)));
  }
  // Forgets what save() left (a stop or delete of a saved instance); idempotent.
  virtual void discard_saved(const InstanceContext&) {}
  // What save() left, as a tar written to `fd` / read from `fd` (checkpoint --export, restore
  // --import: docs/daemon/suspend.md).
  virtual Result<void> export_saved(const InstanceContext& ctx, int) {
    return Unexpected(Error(ENOTSUP, fmt::format("exporting the saved state of {} is not supported", ctx.spec.name)));
  }
  virtual Result<void> import_saved(const InstanceContext& ctx, int) {
    return Unexpected(Error(ENOTSUP, fmt::format("importing a saved state into {} is not supported", ctx.spec.name)));
  }
  // Backups (docs/daemon/backup.md): the files that carry the instance's data, for the archive
  // (containers: the root filesystem's changes, or with `with_state` the checkpoint; VMs: their
  // writable qcow2 disks and the layers below them). Files made for it are removed by
  // backup_done(). The manager has made the instance's files still (stopped, saved or paused).
  virtual Result<std::vector<BackupPart>> backup_parts(const InstanceContext& ctx, const BootSource&, bool) {
    return Unexpected(Error(ENOTSUP, fmt::format("exporting {} is not supported", ctx.spec.name)));
  }
  virtual void backup_done(const InstanceContext&) {}
  // Takes the verified files of a backup (in `staging`, at their names) into the instance just
  // created from its spec; a container's checkpoint, when the backup has one, leaves it
  // checkpointed. On error the manager removes the instance.
  virtual Result<void> restore_parts(const InstanceContext& ctx, const BootSource&, const std::string&,
                                     const BackupManifest&) {
    return Unexpected(Error(ENOTSUP, fmt::format("importing {} is not supported", ctx.spec.name)));
  }
  // Named snapshots (docs/daemon/snapshots.md): the running guest's disk `index` may use the
  // files `backing` below its top from its next open on (the allowlist a snapshot carries).
  virtual Result<void> set_disk_backing(const InstanceContext& ctx, size_t, const std::vector<std::string>&) {
    return Unexpected(Error(ENOTSUP, fmt::format("{} has no disks to snapshot", ctx.spec.name)));
  }
  // What `vessel stats` shows beyond the cgroup's counters (a VM: what its VMM measures); an
  // object, empty when there is nothing more.
  // `pid`: the instance's main process (a VM's vessel-vmm).
  virtual json::Json extra_stats(const InstanceContext&, pid_t) { return json::Json::object(); }
  // An interactive exec (pty or pipes) for the API to relay (docs/daemon/console.md).
  virtual Result<ExecSession> exec_session(const InstanceContext& ctx, const ExecOptions&) {
    return Unexpected(Error(ENOTSUP, fmt::format("interactive exec into {} is not supported", ctx.spec.name))
                          .with_hint("VMs: use `vessel console`"));
  }
  // Live migration (vm_migrate.cc, docs/daemon/migrate.md): a fresh process that waits for the
  // guest's stream (on a Unix socket, or on TCP at `receive_on`, a numeric address of this host,
  // when it comes from another host: then behind a token); and the running guest's stream sent
  // to such a process's `url`, with its `token` (the guest ends here on success, its process
  // exiting; it runs on here on failure). The answer: what the sender measured (downtime_ms,
  // total_ms, bytes, ...).
  virtual Result<IncomingGuest> receive_migration(const InstanceContext& ctx, const BootSource&,
                                                  const std::string& /*receive_on*/) {
    return Unexpected(Error(ENOTSUP, fmt::format("{} cannot be live-migrated", ctx.spec.name)));
  }
  virtual Result<json::Json> send_migration(const InstanceContext& ctx, const GuestProcess&, const std::string& /*url*/,
                                            const std::string& /*token*/, uint32_t /*downtime_ms*/,
                                            uint32_t /*max_rounds*/) {
    return Unexpected(Error(ENOTSUP, fmt::format("{} cannot be live-migrated", ctx.spec.name)));
  }
};

// Runs a helper program to completion with stdout+stderr captured; a non-zero exit is an error
// carrying its output.
Result<std::string> run_tool(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(60));
Result<ExecResult> run_tool_status(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace vessel::daemon
