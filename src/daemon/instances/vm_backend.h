// VMs through vessel-vmm, one process per VM, driven over its Firecracker-compatible API socket.
// vessel-vmm is started through vessel-jailer (unprivileged, chrooted, in its own namespaces and
// cgroup: vm_jail.h), or directly as root with --no-jailer. Either way it runs in its own session
// so that it outlives vesseld; its stdout (the serial console) and stderr go through a pipe to
// `vessel-shim --relay`, which writes the instance's size-capped, rotating log and outlives
// vesseld too. Its sockets and exit file are in INSTANCE/run.
#pragma once

#include <map>
#include <mutex>

#include "base/process.h"
#include "daemon/instances/backend.h"
#include "daemon/instances/vm_jail.h"
#include "vmm/api/vm_config.h"

namespace vessel::daemon {

// The VM's cgroup holds vessel-vmm too: its binary's pages, threads and device buffers are charged
// there with the guest's RAM (several times more under ASan). A limit of the guest's RAM alone got
// the VMM OOM-killed at start in a 32 MiB VM under ASan; the allowance is for the VMM only.
inline constexpr uint64_t kVmmMemoryAllowanceMib = 96;

class VmBackend : public Backend {
 public:
  VmBackend(std::string vmm, JailConfig jail) : vmm_(std::move(vmm)), jail_(std::move(jail)) {}

  Result<void> preflight() override;
  Result<GuestProcess> start(const InstanceContext& ctx, const BootSource& boot) override;
  Result<void> stop(const InstanceContext& ctx, const GuestProcess& proc, std::chrono::seconds timeout) override;
  Result<void> pause(const InstanceContext& ctx, const GuestProcess& proc) override;
  Result<void> resume(const InstanceContext& ctx, const GuestProcess& proc) override;
  void cleanup(const InstanceContext& ctx) override;
  Result<State> probe(const InstanceContext& ctx, const GuestProcess& proc) override;
  Result<ExecResult> exec(const InstanceContext& ctx, const std::vector<std::string>& argv) override;
  // `vessel exec` into a VM: vessel-agent-exec (set_agent_exec) runs the command through the
  // guest's vessel-agent over the VM's vsock socket (docs/vmm/agent.md).
  Result<ExecSession> exec_session(const InstanceContext& ctx, const ExecOptions& options) override;
  void set_agent_exec(std::string path) { agent_exec_ = std::move(path); }
  // vessel-shim, for the console log relay; without it vessel-vmm writes the log file directly
  // (uncapped).
  void set_log_relay(std::string shim) { relay_ = std::move(shim); }
  // After the relay has written the console's last bytes (at most 2 s), how the VM ended.
  using Backend::exit_info;
  ExitInfo exit_info(const InstanceContext& ctx, const GuestProcess* proc, std::chrono::milliseconds wait) override;
  // Suspend to disk (vm_suspend.cc, docs/daemon/suspend.md): a Full snapshot into
  // INSTANCE/suspended, the VMM ended; restore_saved() boots a fresh vessel-vmm from it.
  Result<void> save(const InstanceContext& ctx, const GuestProcess& proc, const SaveOptions& o) override;
  Result<GuestProcess> restore_saved(const InstanceContext& ctx, const BootSource& boot) override;
  void discard_saved(const InstanceContext& ctx) override;
  // Named snapshots (vm_snapshots.cc): PATCH /drives/diskN {"backing_files": [...]}.
  // Backups (vm_backup.cc, docs/daemon/backup.md).
  Result<std::vector<BackupPart>> backup_parts(const InstanceContext& ctx, const BootSource& boot,
                                               bool with_state) override;
  Result<void> restore_parts(const InstanceContext& ctx, const BootSource& boot, const std::string& staging,
                             const BackupManifest& manifest) override;
  Result<void> set_disk_backing(const InstanceContext& ctx, size_t index, const std::vector<std::string>& backing) override;
  // Live migration (vm_migrate.cc, docs/daemon/migrate.md): vessel-vmm --migrate-from on a
  // socket in the run directory; PUT /migration/send to such a socket, hard-linked into this
  // VM's run directory so that its jailed vessel-vmm can reach it.
  Result<IncomingGuest> receive_migration(const InstanceContext& ctx, const BootSource& boot,
                                          const std::string& receive_on) override;
  // PUT /migration/send to the VM's vessel-vmm, to `destination_url` as its jail sees it.
  Result<json::Json> send_to(const InstanceContext& ctx, const std::string& destination_url, const std::string& token,
                             uint32_t downtime_ms, uint32_t max_rounds);
  Result<json::Json> send_migration(const InstanceContext& ctx, const GuestProcess& proc, const std::string& url,
                                    const std::string& token, uint32_t downtime_ms, uint32_t max_rounds) override;
  // KSM: the guest pages merged when the VM has --ksm.
  json::Json extra_stats(const InstanceContext& ctx, pid_t pid) override;

 private:
  // The fd vessel-vmm's stdout and stderr go to: the pipe into a started relay, or the log file.
  Result<Fd> console_sink(const InstanceContext& ctx);
  // A fresh run directory, the tap, the console relay and vessel-vmm (jailed or not), then its
  // configuration through the API; `restoring`: from the saved snapshot instead (no configuration).
  // `receive`: vessel-vmm's --migrate-from arguments instead (no configuration either), and
  // `token`, the one its receiver expects (given in a file of the run directory).
  Result<GuestProcess> launch(const InstanceContext& ctx, const BootSource& boot, bool restoring,
                              std::vector<std::string> receive = {}, const std::string& token = {});
  // vessel-vmm as vesseld's child, as root (--no-jailer); `extra`: more of its arguments.
  Result<GuestProcess> launch_direct(const InstanceContext& ctx, const SpawnOptions& options,
                                     const std::vector<std::string>& extra);
  // vessel-jailer as vesseld's child, vessel-vmm as its child in the jail (the returned process).
  Result<GuestProcess> launch_jailed(const InstanceContext& ctx, const BootSource& boot, const SpawnOptions& options,
                                     const std::vector<std::string>& extra);
  // The saved snapshot moved into the fresh run directory; vessel-vmm's arguments to load it.
  Result<std::vector<std::string>> place_saved(const InstanceContext& ctx);
  // A migration token for the receiver, in a file of the run directory: its --migrate-token-file.
  static constexpr const char* kMigrationTokenFile = "migrate.token";
  Result<std::vector<std::string>> place_token(const InstanceContext& ctx, const std::string& token);
  // Jailed: the placed snapshot files and token belong to the VM's uid `id` (nothing placed:
  // nothing to do).
  Result<void> own_placed(const InstanceContext& ctx, uid_t id);
  // One call to the VM's vessel-vmm API (its answer's body).
  Result<std::string> api(const InstanceContext& ctx, const std::string& method, const std::string& path,
                          const json::Json& body = nullptr);
  // The VMM's command line; `in` is where its run directory is as it sees it.
  static std::vector<std::string> vmm_args(const std::string& in);
  // Reaps the jailer of `name` (our child, when this vesseld started it) within `wait`; its wait status.
  std::optional<int> jailer_status(const std::string& name, std::chrono::milliseconds wait);

  std::string vmm_;
  JailConfig jail_;
  std::string relay_;
  std::string agent_exec_;
  std::mutex jailers_mutex_;
  std::map<std::string, GuestProcess> jailers_;  // by instance: the jailers this vesseld started
};

// One call to the API of the VM whose instance directory is `instance_dir` (its answer's body; an
// HTTP error is EIO with the VMM's fault_message).
Result<std::string> vmm_api(const std::string& instance_dir, const std::string& method, const std::string& path,
                            const json::Json& body = nullptr,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The vsock socket of a VM instance (its virtio-vsock device's uds_path), on the host.
std::string vm_vsock_socket(const std::string& instance_dir);

// The console socket of a VM instance (vessel-vmm --console-sock), on the host.
std::string vm_console_socket(const std::string& instance_dir);

// What vessel-vmm is configured with for `spec` booting from `boot`: its vCPUs and memory, the
// kernel, initramfs and command line, and one drive per disk (disk0, disk1, ...).
// `nic`: a VM on a bridge network, whose address the kernel command line carries (ip=).
// `volumes`: its volume mounts with their disk images (resolve_mounts), one drive each (vol0,
// vol1, ...: the guest reads the id as the disk's serial), named on the command line as
// vessel.volumes=vol0:/data[:ro],... for the default guest's init to mount.
using VolumeDisks = std::vector<std::pair<MountSpec, std::string>>;
Result<vmm::VmConfig> vmm_config(const InstanceSpec& spec, const BootSource& boot, const std::optional<VmNic>& nic = std::nullopt,
                                 const VolumeDisks& volumes = {});

}  // namespace vessel::daemon
