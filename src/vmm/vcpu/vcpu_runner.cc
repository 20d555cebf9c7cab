#include "vmm/vcpu/vcpu_runner.h"

#include <signal.h>

#include <cstring>

#include "base/log.h"
#include "vmm/sandbox/seccomp.h"

namespace vessel::vmm {
namespace {
void on_kick(int) {}
}  // namespace

int VcpuRunner::kick_signal() { return SIGRTMIN + 1; }

// ---------------------------------------------------------------- VcpuControl

VcpuControl::State VcpuControl::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void VcpuControl::set_state(State s) {
  std::vector<std::pair<kvm::Vcpu*, pthread_t>> kick;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::Stopping) return;  // final
    state_ = s;
    if (s != State::Running) {
      for (auto& [vcpu, thread] : vcpus_) vcpu->set_immediate_exit(true);
      kick = vcpus_;
    }
  }
  cv_.notify_all();
  for (auto& [vcpu, thread] : kick) pthread_kill(thread, VcpuRunner::kick_signal());
}

void VcpuControl::wait_parked(size_t count) {
  std::unique_lock lock(mu_);
  while (parked_ < count) {
    if (cv_.wait_for(lock, std::chrono::milliseconds(50)) == std::cv_status::timeout) {
      // A thread may have missed the kick between its checkpoint and KVM_RUN: kick again.
      for (auto& [vcpu, thread] : vcpus_) {
        vcpu->set_immediate_exit(true);
        pthread_kill(thread, VcpuRunner::kick_signal());
      }
    }
  }
}

void VcpuControl::hold() {
  std::lock_guard lock(mu_);
  held_ = true;
}

void VcpuControl::release() {
  {
    std::lock_guard lock(mu_);
    held_ = false;
  }
  cv_.notify_all();
}

VcpuControl::Step VcpuControl::checkpoint(kvm::Vcpu& vcpu, bool completion_pending) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !held_ || state_ == State::Stopping; });
  if (state_ == State::Paused && completion_pending) return Step::Complete;  // immediate_exit is set
  if (state_ == State::Paused) {
    ++parked_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return state_ != State::Paused; });
    --parked_;
  }
  if (state_ == State::Stopping) return Step::Exit;
  vcpu.set_immediate_exit(false);
  return Step::Run;
}

void VcpuControl::thread_exited() {
  std::lock_guard lock(mu_);
  ++parked_;
  cv_.notify_all();
}

void VcpuControl::register_vcpu(kvm::Vcpu* vcpu, pthread_t thread) {
  std::lock_guard lock(mu_);
  vcpus_.emplace_back(vcpu, thread);
  if (state_ != State::Running) vcpu->set_immediate_exit(true);
}

// ---------------------------------------------------------------- VcpuRunner

void VcpuRunner::install_kick_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_kick;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  sigaction(kick_signal(), &sa, nullptr);
}

VcpuRunner::~VcpuRunner() { join(); }

void VcpuRunner::start() {
  thread_ = std::thread([this] { loop(); });
  ctx_.control->register_vcpu(&vcpu_, thread_.native_handle());
}

void VcpuRunner::join() {
  if (thread_.joinable()) thread_.join();
}

void VcpuRunner::loop() {
  std::string name = fmt::format("vcpu{}", vcpu_.id());
  pthread_setname_np(pthread_self(), name.c_str());
  sandbox::enter(sandbox::ThreadKind::Vcpu);  // before the first guest instruction (checkpoint holds it)
  bool completion_pending = false;
  for (;;) {
    auto step = ctx_.control->checkpoint(vcpu_, completion_pending);
    if (step == VcpuControl::Step::Exit) break;
    auto r = vcpu_.run();
    completion_pending = false;
    if (!r) {
      if (r.error().errnum() == EINTR || r.error().errnum() == EAGAIN) {
        if (ctx_.profiler != nullptr) ctx_.profiler->on_interrupted(vcpu_, *ctx_.memory);
        continue;
      }
      ctx_.events({VmEvent::Kind::Error, 2, r.error().to_string()});
      break;
    }
    ++ctx_.stats->exits;
    stale_retry_.on_exit();
    if (!handle_exit()) break;
    uint32_t reason = vcpu_.run_area()->exit_reason;
    completion_pending = reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO;
  }
  ctx_.control->thread_exited();
}

void VcpuStats::note(Counts& counts, uint64_t where) {
  std::lock_guard lock(mu_);
  for (auto& [at, n] : counts) {
    if (at == where) {
      ++n;
      return;
    }
  }
  if (counts.size() < kMaxUnclaimed) counts.emplace_back(where, 1);
}

json::Json VcpuStats::unclaimed() const {
  std::lock_guard lock(mu_);
  json::Json ports = json::Json::object(), mmio = json::Json::object();
  for (const auto& [at, n] : ports_) ports[fmt::format("{:#x}", at)] = n;
  for (const auto& [at, n] : mmio_) mmio[fmt::format("{:#x}", at)] = n;
  return {{"ports", ports}, {"mmio", mmio}};
}

void VcpuRunner::maybe_arm_syscall_repair() {
  if (!syscall_repair_) return;
  if (auto r = syscall_repair_->maybe_arm(vcpu_, *ctx_.memory); !r)
    log::debug("vCPU {}: syscall repair not armed: {}", vcpu_.id(), r.error().to_string());
}

bool VcpuRunner::handle_exit() {
  kvm_run* run = vcpu_.run_area();
  switch (run->exit_reason) {
    case KVM_EXIT_IO: {
      ++ctx_.stats->io;
      maybe_arm_syscall_repair();
      auto* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
      for (uint32_t i = 0; i < run->io.count; ++i) {
        std::span<uint8_t> bytes(data + i * run->io.size, run->io.size);
        bool found = run->io.direction == KVM_EXIT_IO_OUT ? ctx_.pio->write(run->io.port, bytes)
                                                          : ctx_.pio->read(run->io.port, bytes);
        if (!found) {
          ++ctx_.stats->unhandled_io;
          ctx_.stats->note_unclaimed_port(run->io.port);
        }
      }
      return true;
    }
    case KVM_EXIT_MMIO: {
      ++ctx_.stats->mmio;
      maybe_arm_syscall_repair();
      uint32_t len = std::min<uint32_t>(run->mmio.len, 8);
      std::span<uint8_t> bytes(run->mmio.data, len);
      bool found = run->mmio.is_write ? ctx_.mmio->write(run->mmio.phys_addr, bytes)
                                      : ctx_.mmio->read(run->mmio.phys_addr, bytes);
      if (!found) {
        ++ctx_.stats->unhandled_mmio;
        ctx_.stats->note_unclaimed_mmio(run->mmio.phys_addr);
      }
      return true;
    }
    case KVM_EXIT_INTR:
      return true;
    case KVM_EXIT_DEBUG: {
      if (!syscall_repair_) {
        ctx_.events({VmEvent::Kind::Error, 2, fmt::format("vCPU {}: unexpected debug exit", vcpu_.id())});
        return false;
      }
      auto done = syscall_repair_->on_debug_exit(vcpu_, *ctx_.memory);
      if (!done) {
        ctx_.events({VmEvent::Kind::Error, 2, fmt::format("vCPU {}: {}", vcpu_.id(), done.error().to_string())});
        return false;
      }
      return true;
    }
    case KVM_EXIT_HLT:
      ctx_.events({VmEvent::Kind::Poweroff, 0, fmt::format("vCPU {} halted", vcpu_.id())});
      return false;
    case KVM_EXIT_SHUTDOWN:
      ctx_.events({VmEvent::Kind::Reboot, 0, fmt::format("vCPU {}: triple fault (shutdown)", vcpu_.id())});
      return false;
    case KVM_EXIT_SYSTEM_EVENT:
      switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
          ctx_.events({VmEvent::Kind::Poweroff, 0, "system event: shutdown"});
          return false;
        case KVM_SYSTEM_EVENT_RESET:
          ctx_.events({VmEvent::Kind::Reboot, 0, "system event: reset"});
          return false;
        case KVM_SYSTEM_EVENT_CRASH:
          ctx_.events({VmEvent::Kind::Panic, 3, "system event: crash"});
          return false;
        default:
          ctx_.events({VmEvent::Kind::Error, 2, fmt::format("unknown system event {}", run->system_event.type)});
          return false;
      }
    case KVM_EXIT_INTERNAL_ERROR:
      return handle_internal_error();
    case KVM_EXIT_FAIL_ENTRY:
      ctx_.events({VmEvent::Kind::Error, 2,
                   fmt::format("vCPU {}: VM entry failed (reason {:#x})", vcpu_.id(),
                               run->fail_entry.hardware_entry_failure_reason)});
      return false;
    default:
      ctx_.events({VmEvent::Kind::Error, 2, fmt::format("vCPU {}: unexpected exit reason {}", vcpu_.id(), run->exit_reason)});
      return false;
  }
}

bool VcpuRunner::handle_internal_error() {
  ++ctx_.stats->internal_errors;
  auto done = x86::emulate_failed_instruction(vcpu_, *ctx_.memory, *ctx_.emulation);
  if (done) {
    log::debug("vCPU {}: emulated {}", vcpu_.id(), *done);
    return true;
  }
  auto regs = vcpu_.get_regs();
  if (regs && stale_retry_.should_retry(regs->rip)) {
    ++ctx_.stats->stale_instruction_retries;
    log::debug("vCPU {}: re-entering after {} (the instruction may have been rewritten)", vcpu_.id(),
               done.error().to_string());
    return true;
  }
  ctx_.events({VmEvent::Kind::Error, 2,
               fmt::format("vCPU {}: KVM internal error (suberror {}): {}", vcpu_.id(),
                           vcpu_.run_area()->internal.suberror, done.error().to_string())});
  return false;
}

}  // namespace vessel::vmm
