// A sampling profiler of guest code: a thread kicks every vCPU thread out of KVM_RUN at a fixed
// interval and the vCPU thread records its RIP. On a PVM host this is how we see where an
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
  // Called by a vCPU thread after KVM_RUN returned EINTR: records RIP when a sample is due.
  void on_interrupted(kvm::Vcpu& vcpu);
  // Writes "samples rip vcpu" lines, most frequent first, to the path.
  Result<void> write() const;
  uint64_t samples() const { return total_.load(); }

 private:
  std::chrono::microseconds interval_;
  std::string path_;
  std::vector<std::unique_ptr<std::atomic<bool>>> due_;
  mutable std::mutex mu_;
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> counts_;  // (rip, vcpu) -> samples
  std::atomic<uint64_t> total_{0};
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vessel::vmm
