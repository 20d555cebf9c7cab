// Inside a Machine (machine.cc: lifecycle; machine_build.cc: the builders): one incarnation of
// the VM and the interrupt lines that connect its devices to KVM.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "base/fd.h"
#include "kvm/kvm.h"
#include "vmm/arch/x86_64/emulate.h"
#include "vmm/arch/x86_64/pvm_syscall.h"
#include "vmm/bus/bus.h"
#include "vmm/devices/legacy/cmos_rtc.h"
#include "vmm/devices/legacy/i8042.h"
#include "vmm/devices/legacy/ib700_watchdog.h"
#include "vmm/devices/virtio/balloon/balloon.h"
#include "vmm/devices/virtio/virtio_devices.h"
#include "vmm/mailbox.h"
#include "vmm/machine.h"
#include "vmm/memory/ksm_stats.h"
#include "vmm/snapshot/uffd_backend.h"
#include "vmm/vcpu/guest_profiler.h"
#include "vmm/vcpu/vcpu_runner.h"

namespace vessel::vmm {

// An edge-triggered interrupt: an eventfd bound to a GSI of the in-kernel IOAPIC (KVM_IRQFD).
class IrqfdLine : public InterruptLine {
 public:
  explicit IrqfdLine(EventFd fd) : fd_(std::move(fd)) {}
  Result<void> trigger() override { return fd_.signal(1); }
  int fd() const { return fd_.fd(); }
  int irqfd() const override { return fd_.fd(); }

 private:
  EventFd fd_;
};

// COM1's interrupt line outlives each VM incarnation (on_reboot: restart builds a new KVM VM),
// because the Serial device (and the console plumbing around it) stays: it forwards to the
// current VM's irqfd.
class Machine::RelayLine : public InterruptLine {
 public:
  Result<void> trigger() override {
    std::shared_ptr<InterruptLine> target = std::atomic_load(&target_);
    if (!target) return {};
    return target->trigger();
  }
  void set(std::shared_ptr<InterruptLine> target) { std::atomic_store(&target_, std::move(target)); }

 private:
  std::shared_ptr<InterruptLine> target_;
};

struct Machine::Impl {
  explicit Impl(kvm::System s, kvm::Vm v, GuestMemory m)
      : system(std::move(s)), vm(std::move(v)), memory(std::move(m)) {}
  kvm::System system;
  kvm::Vm vm;
  GuestMemory memory;
  Bus pio, mmio;
  VcpuControl control;
  x86::EmulationCounters emulation;
  x86::SyscallRepairCounters syscall_repair;
  VcpuStats stats;
  std::vector<std::unique_ptr<VcpuRunner>> vcpus;
  std::unique_ptr<GuestProfiler> profiler;
  std::vector<std::shared_ptr<virtio::VirtioMmioDevice>> virtio;
  // The devices a running VM's API may change: "drive/<drive_id>", "net/<iface_id>".
  std::map<std::string, std::shared_ptr<virtio::VirtioMmioDevice>> virtio_by_id;
  std::shared_ptr<virtio::BalloonControl> balloon;  // the balloon's target and figures, when configured
  std::vector<std::shared_ptr<IrqfdLine>> lines;
  std::shared_ptr<I8042> i8042;
  std::shared_ptr<CmosRtc> rtc;
  std::shared_ptr<Ib700Watchdog> watchdog;  // with the configuration's watchdog
  std::shared_ptr<EventFd> watchdog_wake;   // signalled when its deadline moved earlier
  VmConfig config;
  // For snapshots: vCPU 0's CPUID as set, and the MSRs a vCPU state holds (kept from the build:
  // the VMM thread's filter has no /dev/kvm ioctls).
  std::vector<kvm_cpuid_entry2> cpuid0;
  std::vector<uint32_t> msrs;
  // A restored VM's RAM is a private mapping of its memory file (device, inode): a snapshot must
  // not truncate that file under it (the pages not copied yet would be gone: SIGBUS).
  std::optional<std::pair<uint64_t, uint64_t>> memory_file;
  // A Uffd restore's connection to its page-fault handler (docs/vmm/uffd.md).
  std::optional<snapshot::UffdBackend> uffd;
  // machine-config ksm: this process's KSM counters, for the metrics (docs/vmm/memory.md).
  std::optional<KsmStats> ksm;
  std::unique_ptr<Mailbox<VmEvent>> events;  // from devices and vCPUs to the owner
  State state = State::Created;
  std::optional<VmEvent> event;  // the first one posted
  bool stopped = false;
};

// The pages written since the last call (KVM's dirty log of each slot and GuestMemory's marks),
// one bit per page of the host mapping; both logs start again (machine_snapshot.cc).
Result<std::vector<uint64_t>> take_dirty_pages(Machine::Impl& m);

}  // namespace vessel::vmm
