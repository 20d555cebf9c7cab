// Containers through an OCI runtime with runc's command line (vessel-runtime; runc and crun work
// too). The root filesystem is an overlay of the image's layers with a per-instance upper layer;
// the container's stdout and stderr go straight to its log file, so nothing depends on vesseld
// staying alive.
#pragma once

#include "base/process.h"
#include "daemon/instances/backend.h"
#include "files/confined_root.h"

namespace vessel::daemon {

class ContainerBackend : public Backend {
 public:
  // runtime: the runtime binary; root: its state directory (--root).
  ContainerBackend(std::string runtime, std::string root) : runtime_(std::move(runtime)), root_(std::move(root)) {}

  Result<GuestProcess> start(const InstanceContext& ctx, const BootSource& boot) override;
  Result<void> stop(const InstanceContext& ctx, const GuestProcess& proc, std::chrono::seconds timeout) override;
  Result<void> pause(const InstanceContext& ctx, const GuestProcess& proc) override;
  Result<void> resume(const InstanceContext& ctx, const GuestProcess& proc) override;
  Result<void> kill(const InstanceContext& ctx, const GuestProcess& proc, int sig) override;  // kill.cc
  void cleanup(const InstanceContext& ctx) override;
  Result<State> probe(const InstanceContext& ctx, const GuestProcess& proc) override;
  Result<ExecResult> exec(const InstanceContext& ctx, const std::vector<std::string>& argv) override;
  Result<ExecSession> exec_session(const InstanceContext& ctx, const ExecOptions& options) override;
  Result<std::string> mount_files(const InstanceContext& ctx, const BootSource& boot, bool running) override;
  void release_files(const InstanceContext& ctx, bool running) override;
  // CRIU through the runtime's checkpoint / restore (container_checkpoint.cc).
  Result<void> save(const InstanceContext& ctx, const GuestProcess& proc, const SaveOptions& o) override;
  Result<GuestProcess> restore_saved(const InstanceContext& ctx, const BootSource& boot) override;
  void discard_saved(const InstanceContext& ctx) override;
  Result<void> export_saved(const InstanceContext& ctx, int fd) override;
  Result<void> import_saved(const InstanceContext& ctx, int fd) override;
  // Backups (container_backup.cc, docs/daemon/backup.md).
  Result<std::vector<BackupPart>> backup_parts(const InstanceContext& ctx, const BootSource& boot,
                                               bool with_state) override;
  void backup_done(const InstanceContext& ctx) override;
  Result<void> restore_parts(const InstanceContext& ctx, const BootSource& boot, const std::string& staging,
                             const BackupManifest& manifest) override;

  const std::string& runtime() const { return runtime_; }
  // vessel-shim (docs/daemon/console.md): when set, it runs `create` and stays the parent of the
  // container's process, so its exit status is kept even across vesseld restarts.
  void set_shim(std::string shim) { shim_ = std::move(shim); }
  // vessel-init, process 1 of the containers run with --init (src/init).
  void set_init(std::string init) { init_ = std::move(init); }
  std::chrono::milliseconds exit_file_wait() const override {
    return std::chrono::milliseconds(shim_.empty() ? 0 : 3000);
  }

 private:
  // Checkpoint exports (container_checkpoint.cc): the upper directory as an OCI layer in `path`;
  // on import, unpacked beside the upper directory (false: the export has none), then swapped in.
  Result<void> pack_rootfs_diff(const InstanceContext& ctx, const files::ConfinedRoot& root, const std::string& path);
  Result<bool> stage_rootfs_diff(const InstanceContext& ctx, const std::string& diff);
  Result<void> swap_in_rootfs_diff(const InstanceContext& ctx);
  std::vector<std::string> command(std::initializer_list<std::string> args) const;
  Result<void> mount_rootfs(const InstanceContext& ctx, const BootSource& boot);
  // The bundle in ctx.dir, then the runtime's `verb` (create or restore, with its flags; the
  // bundle, pid file and name are added) through the shim; `start`: then `start NAME`.
  Result<GuestProcess> launch(const InstanceContext& ctx, const BootSource& boot, std::vector<std::string> verb,
                              bool start);
  Result<void> create_through_shim(const InstanceContext& ctx, const std::vector<std::string>& create,
                                   SpawnOptions options, const std::string& pid_file);

  std::string runtime_;
  std::string root_;
  std::string shim_;
  std::string init_;
};

// The socket where vessel-shim serves a container's terminal (-t), raw bytes both ways.
std::string container_console_socket(const std::string& instance_dir);

}  // namespace vessel::daemon
