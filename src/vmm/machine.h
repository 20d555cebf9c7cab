// A running VM: KVM VM and vCPUs, guest memory, buses and devices, built from a VmConfig. The
// machine owns the lifecycle (start, pause, resume, stop) and turns the first VmEvent into the
// process's exit status (docs/vmm.md, "Exit status").
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "base/json.h"
#include "kvm/kvm.h"
#include "vmm/api/vm_config.h"
#include "vmm/arch/x86_64/emulate.h"
#include "vmm/bus/bus.h"
#include "vmm/devices/legacy/serial.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/vcpu/vcpu_runner.h"
#include "vmm/vm_event.h"

namespace vessel::vmm {

class MmioDeviceHandle;  // virtio devices (pause/resume/metrics), see machine.cc

struct MachineOptions {
  int console_fd = 1;  // where the serial console goes
  std::string guest_profile;  // when set: sample guest RIPs and write them here at the end
  std::chrono::microseconds guest_profile_interval{1000};
};

class Machine {
 public:
  enum class State { Created, Running, Paused, Stopped };

  static Result<std::unique_ptr<Machine>> create(const VmConfig& config, MachineOptions options = {});
  ~Machine();

  Result<void> start();
  Result<void> pause();
  Result<void> resume();
  // Types Ctrl+Alt+Del on the i8042 keyboard (IRQ 1): Linux then runs its ctrl-alt-del action.
  Result<void> send_ctrl_alt_del();
  // Asks the machine to stop with this event (first event wins).
  void post_event(VmEvent event);
  // Blocks until the VM has ended; stops and joins the vCPUs; returns the deciding event. With
  // on_reboot: restart, a guest reboot builds and boots a fresh VM (same configuration, same
  // console) instead of returning, until begin_shutdown() was called.
  VmEvent wait();
  // From now on a guest reboot ends the VM (SIGTERM: Ctrl+Alt+Del must not restart it).
  void begin_shutdown();
  // Like wait() with a timeout; nullopt when nothing ended the VM in time.
  std::optional<VmEvent> wait_for(std::chrono::milliseconds timeout);

  State state() const;
  Serial& serial() { return *serial_; }
  json::Json metrics() const;
  static int exit_code(const VmEvent& event);

  struct Impl;
  class RelayLine;

 private:
  Machine(VmConfig config, MachineOptions options);
  Result<std::unique_ptr<Impl>> build();
  Result<void> start_locked();
  Result<void> restart();
  void stop_vcpus();

  const VmConfig config_;
  const MachineOptions options_;
  std::shared_ptr<RelayLine> com1_relay_;
  std::shared_ptr<Serial> serial_;
  // Held shared by every call that uses impl_, exclusively by restart() while it swaps it.
  mutable std::shared_mutex swap_mu_;
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> reboots_{0};
  std::atomic<bool> stopping_{false};
};

const char* to_string(Machine::State state);

}  // namespace vessel::vmm
