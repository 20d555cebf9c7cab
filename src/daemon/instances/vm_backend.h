// VMs through vessel-vmm, one process per VM, driven over its Firecracker-compatible API socket.
// vessel-vmm runs in its own session so that it outlives vesseld; its stdout (the serial console)
// and stderr go through a pipe to `vessel-shim --relay`, which writes the instance's size-capped,
// rotating log and outlives vesseld too.
#pragma once

#include "daemon/instances/backend.h"
#include "vmm/api/vm_config.h"

namespace vessel::daemon {

class VmBackend : public Backend {
 public:
  explicit VmBackend(std::string vmm) : vmm_(std::move(vmm)) {}

  Result<void> preflight() override;
  Result<GuestProcess> start(const InstanceContext& ctx, const BootSource& boot) override;
  Result<void> stop(const InstanceContext& ctx, const GuestProcess& proc, std::chrono::seconds timeout) override;
  Result<void> pause(const InstanceContext& ctx, const GuestProcess& proc) override;
  Result<void> resume(const InstanceContext& ctx, const GuestProcess& proc) override;
  void cleanup(const InstanceContext& ctx) override;
  Result<State> probe(const InstanceContext& ctx, const GuestProcess& proc) override;
  Result<ExecResult> exec(const InstanceContext& ctx, const std::vector<std::string>& argv) override;
  // vessel-shim, for the console log relay; without it vessel-vmm writes the log file directly
  // (uncapped).
  void set_log_relay(std::string shim) { relay_ = std::move(shim); }
  // After the relay has written the console's last bytes (at most 2 s), how the VM ended.
  ExitInfo exit_info(const InstanceContext& ctx, const GuestProcess* proc) override;

 private:
  // The fd vessel-vmm's stdout and stderr go to: the pipe into a started relay, or the log file.
  Result<Fd> console_sink(const InstanceContext& ctx);

  std::string vmm_;
  std::string relay_;
};

// What vessel-vmm is configured with for `spec` booting from `boot`: its vCPUs and memory, the
// kernel, initramfs and command line, and one drive per disk (disk0, disk1, ...).
Result<vmm::VmConfig> vmm_config(const InstanceSpec& spec, const BootSource& boot);

}  // namespace vessel::daemon
