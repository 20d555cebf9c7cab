// Containers through an OCI runtime with runc's command line (vessel-runtime; runc and crun work
// too). The root filesystem is an overlay of the image's layers with a per-instance upper layer;
// the container's stdout and stderr go straight to its log file, so nothing depends on vesseld
// staying alive.
#pragma once

#include "daemon/instances/backend.h"

namespace vessel::daemon {

class ContainerBackend : public Backend {
 public:
  // runtime: the runtime binary; root: its state directory (--root).
  ContainerBackend(std::string runtime, std::string root) : runtime_(std::move(runtime)), root_(std::move(root)) {}

  Result<GuestProcess> start(const InstanceContext& ctx, const BootSource& boot) override;
  Result<void> stop(const InstanceContext& ctx, const GuestProcess& proc, std::chrono::seconds timeout) override;
  Result<void> pause(const InstanceContext& ctx, const GuestProcess& proc) override;
  Result<void> resume(const InstanceContext& ctx, const GuestProcess& proc) override;
  void cleanup(const InstanceContext& ctx) override;
  Result<State> probe(const InstanceContext& ctx, const GuestProcess& proc) override;
  Result<ExecResult> exec(const InstanceContext& ctx, const std::vector<std::string>& argv) override;

  const std::string& runtime() const { return runtime_; }

 private:
  std::vector<std::string> command(std::initializer_list<std::string> args) const;
  Result<void> mount_rootfs(const InstanceContext& ctx, const BootSource& boot);

  std::string runtime_;
  std::string root_;
};

}  // namespace vessel::daemon
