// A sampling profiler of guest code: a thread kicks every vCPU thread out of KVM_RUN at a fixed
// interval and the vCPU thread records its RIP and, for kernel code, the kernel-text addresses
// found near the top of its stack (a frame-pointer-free "guess" unwind, as Linux's own guess
// unwinder does): enough to see which caller (which initcall) a hot function works for. On a PVM host this is how we see where an
// emulated guest kernel spends its (slow) instructions; scripts/guest-profile-report.py maps the
// addresses to kernel symbols. Costs one exit per vCPU per interval, so it is off by default.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "kvm/kvm.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm {

class GuestProfiler {
 public:
  // `path` is rewritten every 10 s while the VM runs, so a long boot can be read as it goes.
  GuestProfiler(size_t vcpu_count, std::chrono::microseconds interval, std::string path);
  ~GuestProfiler();
  GuestProfiler(const GuestProfiler&) = delete;
  GuestProfiler& operator=(const GuestProfiler&) = delete;

  // Starts kicking these threads (one per vCPU, index = vCPU id) with `signal`.
  void start(std::vector<pthread_t> threads, int signal);
  void stop();
  // Called by a vCPU thread after KVM_RUN returned EINTR: records a sample when one is due.
  void on_interrupted(kvm::Vcpu& vcpu, const GuestMemory& memory);
  // Writes "samples rip vcpu [stack words...]" lines, most frequent first, to the path.
  Result<void> write() const;
  uint64_t samples() const { return total_.load(); }

 private:
  std::chrono::microseconds interval_;
  std::string path_;
  std::vector<std::unique_ptr<std::atomic<bool>>> due_;
  mutable std::mutex mu_;
  struct Key {
    uint64_t rip;
    uint32_t vcpu;
    std::vector<uint64_t> stack;  // kernel-text addresses near the top of the stack, innermost first
    auto operator<=>(const Key&) const = default;
  };
  std::map<Key, uint64_t> counts_;
  std::atomic<uint64_t> total_{0};
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vessel::vmm
