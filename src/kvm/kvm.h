// The only place in vessel that issues KVM ioctls (docs/design.md): System (/dev/kvm), Vm (one
// VM fd with its memory slots, irqchip, irqfds and ioeventfds) and Vcpu (one vCPU fd with its
// mmap'ed kvm_run). Every call returns a Result naming the ioctl that failed.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::kvm {

// kvm_cpuid2 / kvm_msrs have flexible arrays; these own a properly sized copy.
struct CpuidEntries {
  std::vector<kvm_cpuid_entry2> entries;
  kvm_cpuid_entry2* find(uint32_t function, uint32_t index = 0);
};

class Vm;

// The legacy 4 KiB kvm_xsave (FXSAVE image, XSAVE header, extended areas); our own type because
// the uapi's flexible array cannot live inside a Result.
struct XsaveArea {
  uint32_t region[1024];
};

class System {
 public:
  static Result<System> open(const char* path = "/dev/kvm");
  int fd() const { return fd_.get(); }
  // KVM_CHECK_EXTENSION on /dev/kvm; 0 when unsupported.
  int check_extension(long cap) const;
  Result<CpuidEntries> supported_cpuid() const;
  Result<std::vector<uint32_t>> msr_index_list() const;
  Result<size_t> vcpu_mmap_size() const;
  // True on a PVM host (kvm_pvm module loaded): guest kernel code is emulated.
  static bool is_pvm();
  Result<Vm> create_vm() const;

 private:
  explicit System(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

class Vcpu {
 public:
  Vcpu(Vcpu&& other) noexcept;
  Vcpu& operator=(Vcpu&& other) noexcept;
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  ~Vcpu();

  uint32_t id() const { return id_; }
  int fd() const { return fd_.get(); }
  kvm_run* run_area() const { return run_; }

  // KVM_RUN; returns the errno on failure (EINTR when kicked by a signal) as an Error.
  Result<void> run();
  // Makes the next (or current, after a signal) KVM_RUN return with EINTR.
  void set_immediate_exit(bool on) { run_->immediate_exit = on ? 1 : 0; }

  Result<kvm_regs> get_regs() const;
  Result<void> set_regs(const kvm_regs& regs);
  Result<kvm_sregs> get_sregs() const;
  Result<void> set_sregs(const kvm_sregs& sregs);
  Result<kvm_fpu> get_fpu() const;
  Result<void> set_fpu(const kvm_fpu& fpu);
  Result<void> set_cpuid(const CpuidEntries& cpuid);
  Result<void> set_msrs(const std::vector<kvm_msr_entry>& msrs);
  Result<std::vector<kvm_msr_entry>> get_msrs(const std::vector<uint32_t>& indices) const;
  Result<XsaveArea> get_xsave() const;
  Result<void> set_xsave(const XsaveArea& xsave);
  Result<kvm_lapic_state> get_lapic() const;
  Result<void> set_lapic(const kvm_lapic_state& lapic);
  Result<kvm_vcpu_events> get_events() const;
  Result<void> set_events(const kvm_vcpu_events& events);
  Result<kvm_mp_state> get_mp_state() const;
  Result<void> set_mp_state(const kvm_mp_state& state);
  // Snapshots (src/vmm/snapshot): the extended control registers and the debug registers.
  Result<kvm_xcrs> get_xcrs() const;
  Result<void> set_xcrs(const kvm_xcrs& xcrs);
  Result<kvm_debugregs> get_debugregs() const;
  Result<void> set_debugregs(const kvm_debugregs& regs);
  // KVM_SET_GUEST_DEBUG: hardware breakpoints / single-step that exit with KVM_EXIT_DEBUG.
  Result<void> set_guest_debug(const kvm_guest_debug& debug);
  // Guest-virtual to guest-physical through KVM (may be unsupported on some KVMs).
  Result<kvm_translation> translate(uint64_t gva) const;

 private:
  friend class Vm;
  Vcpu(uint32_t id, Fd fd, kvm_run* run, size_t run_size)
      : id_(id), fd_(std::move(fd)), run_(run), run_size_(run_size) {}
  uint32_t id_ = 0;
  Fd fd_;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
};

class Vm {
 public:
  int fd() const { return fd_.get(); }
  int check_extension(long cap) const;
  Result<void> set_user_memory_region(uint32_t slot, uint64_t guest_addr, uint64_t size,
                                      void* host, uint32_t flags = 0);
  Result<void> set_tss_addr(uint64_t addr);
  Result<void> set_identity_map_addr(uint64_t addr);
  Result<void> create_irqchip();
  Result<void> create_pit2();
  // Binds an eventfd to a GSI: a write to the fd raises the (edge) interrupt in the kernel.
  Result<void> irqfd(int eventfd, uint32_t gsi);
  Result<void> irqfd_remove(int eventfd, uint32_t gsi);
  // Binds an eventfd to a guest write at `addr` (MMIO, or port I/O when `pio`).
  Result<void> ioeventfd(uint64_t addr, uint32_t len, std::optional<uint64_t> datamatch,
                         int eventfd, bool pio = false);
  Result<void> ioeventfd_remove(uint64_t addr, uint32_t len, std::optional<uint64_t> datamatch,
                                int eventfd, bool pio = false);
  Result<void> irq_line(uint32_t irq, bool level);
  Result<kvm_clock_data> get_clock() const;
  Result<void> set_clock(const kvm_clock_data& clock);
  // The in-kernel irqchip (KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC) and PIT, for snapshots.
  Result<kvm_irqchip> get_irqchip(uint32_t chip_id) const;
  Result<void> set_irqchip(const kvm_irqchip& chip);
  Result<kvm_pit_state2> get_pit2() const;
  // KVM_GET_DIRTY_LOG: the pages of `slot` (of `pages` pages) written since the last call, one bit
  // each, and the log starts again (the slot needs KVM_MEM_LOG_DIRTY_PAGES).
  Result<std::vector<uint64_t>> get_dirty_log(uint32_t slot, uint64_t pages) const;
  Result<void> set_pit2(const kvm_pit_state2& pit);
  Result<Vcpu> create_vcpu(uint32_t id);

 private:
  friend class System;
  Vm(Fd fd, size_t run_size) : fd_(std::move(fd)), run_size_(run_size) {}
  Fd fd_;
  size_t run_size_ = 0;
};

// The ioctl request numbers this file issues, grouped by who issues them, for the seccomp filters
// of vessel-vmm's threads (src/vmm/sandbox): a running vCPU (KVM_RUN, the register, MSR, event
// and debug accessors the exit loop and the PVM emulator use, and KVM_IOEVENTFD for virtio queues
// becoming ready), and everything else (opening
// /dev/kvm, creating and wiring the VM, setting up the vCPUs).
std::vector<unsigned long> running_vcpu_ioctls();
std::vector<unsigned long> build_ioctls();
// What reading a paused VM's state for a snapshot takes (vCPU and VM getters), on the thread that
// writes the snapshot (the VMM thread). Restoring happens before any filter is loaded.
std::vector<unsigned long> snapshot_ioctls();
// What sending a live migration takes besides those: KVM_SET_USER_MEMORY_REGION, to turn the
// dirty log on for memory slots that exist (the VMM thread; docs/vmm/migration.md).
std::vector<unsigned long> migration_ioctls();

}  // namespace vessel::kvm
