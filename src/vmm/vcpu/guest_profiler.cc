#include "vmm/vcpu/guest_profiler.h"

#include <signal.h>

#include <algorithm>

#include "base/fd.h"
#include "fmt/format.h"

namespace vessel::vmm {

GuestProfiler::GuestProfiler(size_t vcpu_count, std::chrono::microseconds interval, std::string path)
    : interval_(interval), path_(std::move(path)) {
  for (size_t i = 0; i < vcpu_count; ++i) due_.push_back(std::make_unique<std::atomic<bool>>(false));
}

GuestProfiler::~GuestProfiler() { stop(); }

void GuestProfiler::start(std::vector<pthread_t> threads, int signal) {
  thread_ = std::thread([this, threads = std::move(threads), signal] {
    pthread_setname_np(pthread_self(), "guest-profiler");
    std::unique_lock lock(run_mu_);
    auto next_write = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!run_cv_.wait_for(lock, interval_, [&] { return stopping_; })) {
      if (std::chrono::steady_clock::now() >= next_write) {
        (void)write();
        next_write += std::chrono::seconds(10);
      }
      for (size_t i = 0; i < threads.size() && i < due_.size(); ++i) {
        due_[i]->store(true);
        pthread_kill(threads[i], signal);
      }
    }
  });
}

void GuestProfiler::stop() {
  {
    std::lock_guard lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GuestProfiler::on_interrupted(kvm::Vcpu& vcpu) {
  if (vcpu.id() >= due_.size() || !due_[vcpu.id()]->exchange(false)) return;
  auto regs = vcpu.get_regs();
  if (!regs) return;
  std::lock_guard lock(mu_);
  ++counts_[{regs->rip, vcpu.id()}];
  ++total_;
}

Result<void> GuestProfiler::write() const {
  std::vector<std::pair<uint64_t, std::pair<uint64_t, uint32_t>>> rows;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, n] : counts_) rows.push_back({n, key});
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string text = fmt::format("# vessel-vmm guest profile: {} samples every {} us; columns: samples rip vcpu\n",
                                 total_.load(), interval_.count());
  for (const auto& [n, key] : rows) text += fmt::format("{} {:#x} {}\n", n, key.first, key.second);
  return write_file(path_, text);
}

}  // namespace vessel::vmm
