// One thread per vCPU running KVM_RUN; the loop is one visible switch over exit reasons (port
// I/O and MMIO go to the buses, internal errors to the PVM emulator, shutdowns and system events
// to the machine). Pause/stop use a shared VcpuControl: the controller flips the state, sets
// immediate_exit and kicks each thread with a signal; threads park on a condition variable.
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/json.h"
#include "kvm/kvm.h"
#include "vmm/arch/x86_64/emulate.h"
#include "vmm/arch/x86_64/pvm_syscall.h"
#include "vmm/bus/bus.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/vcpu/guest_profiler.h"
#include "vmm/vcpu/stale_instruction.h"
#include "vmm/vm_event.h"

namespace vessel::vmm {

struct VcpuStats {
  std::atomic<uint64_t> exits{0}, io{0}, mmio{0}, unhandled_io{0}, unhandled_mmio{0},
      internal_errors{0}, stale_instruction_retries{0};

  // Which ports and addresses nobody claims (the first kMaxUnclaimed of each, with counts): what a
  // guest probes for, e.g. a driver looking for a device the VM does not have.
  void note_unclaimed_port(uint16_t port) { note(ports_, port); }
  void note_unclaimed_mmio(uint64_t addr) { note(mmio_, addr); }
  json::Json unclaimed() const;

  static constexpr size_t kMaxUnclaimed = 16;

 private:
  using Counts = std::vector<std::pair<uint64_t, uint64_t>>;
  void note(Counts& counts, uint64_t where);
  mutable std::mutex mu_;
  Counts ports_, mmio_;
};

class VcpuControl {
 public:
  enum class State { Running, Paused, Stopping };
  State state() const;
  // Called by the controller (API/main thread).
  void set_state(State s);
  // Waits until `count` threads are parked (paused or exited).
  void wait_parked(size_t count);
  // Between hold() and release(), vCPU threads wait in their first checkpoint: the machine's
  // threads are all started (and confined) before the guest runs.
  void hold();
  void release();
  // Called by vCPU threads before each KVM_RUN. `completion_pending`: the last exit was port I/O
  // or MMIO, which KVM finishes (a read's value into its register) only at the next KVM_RUN. A
  // vCPU about to park with one pending is told to Complete first (KVM_RUN with immediate_exit
  // does just that), so that a paused vCPU's registers are whole when a snapshot reads them.
  enum class Step { Run, Complete, Exit };
  Step checkpoint(kvm::Vcpu& vcpu, bool completion_pending = false);
  void thread_exited();
  void register_vcpu(kvm::Vcpu* vcpu, pthread_t thread);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::Running;
  size_t parked_ = 0;
  bool held_ = false;
  std::vector<std::pair<kvm::Vcpu*, pthread_t>> vcpus_;
};

struct VcpuContext {
  const Bus* pio = nullptr;
  const Bus* mmio = nullptr;
  const GuestMemory* memory = nullptr;
  EventSink events;
  VcpuControl* control = nullptr;
  x86::EmulationCounters* emulation = nullptr;
  VcpuStats* stats = nullptr;
  GuestProfiler* profiler = nullptr;  // optional (--guest-profile)
  x86::SyscallRepairCounters* syscall_repair = nullptr;  // set on PVM hosts (pvm_syscall.h)
};

class VcpuRunner {
 public:
  VcpuRunner(kvm::Vcpu vcpu, VcpuContext ctx) : vcpu_(std::move(vcpu)), ctx_(std::move(ctx)) {
    if (ctx_.syscall_repair != nullptr) syscall_repair_.emplace(*ctx_.syscall_repair);
  }
  ~VcpuRunner();
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;

  kvm::Vcpu& vcpu() { return vcpu_; }
  void start();
  void join();

  pthread_t native_handle() { return thread_.native_handle(); }

  // Installs the (empty) kick signal handler; call once per process before start().
  static void install_kick_handler();
  static int kick_signal();

 private:
  void loop();
  // Returns false when the vCPU cannot continue.
  bool handle_exit();
  bool handle_internal_error();

  void maybe_arm_syscall_repair();

  kvm::Vcpu vcpu_;
  VcpuContext ctx_;
  std::optional<x86::PvmSyscallRepair> syscall_repair_;
  StaleInstructionRetry stale_retry_;
  std::thread thread_;
};

}  // namespace vessel::vmm
