#include "vmm/vcpu/guest_profiler.h"

#include <signal.h>

#include <algorithm>

#include "base/fd.h"
#include "fmt/format.h"
#include "vmm/arch/x86_64/guest_walk.h"

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

namespace {

// Linux maps its text at -2 GiB and modules just above; data never lives there.
bool looks_like_kernel_text(uint64_t v) { return v >= 0xffffffff80000000ull && v < 0xfffffffffe000000ull; }

constexpr size_t kStackWordsScanned = 128;
constexpr size_t kStackAddressesKept = 8;

}  // namespace

void GuestProfiler::on_interrupted(kvm::Vcpu& vcpu, const GuestMemory& memory) {
  if (vcpu.id() >= due_.size() || !due_[vcpu.id()]->exchange(false)) return;
  auto regs = vcpu.get_regs();
  if (!regs) return;
  Key key{regs->rip, vcpu.id(), {}};
  if (looks_like_kernel_text(regs->rip)) {
    if (auto sregs = vcpu.get_sregs()) {
      uint64_t words[kStackWordsScanned] = {};
      // The stack may end within the window: read what is mapped, page by page.
      uint64_t at = regs->rsp;
      size_t got = 0;
      while (got < kStackWordsScanned) {
        size_t n = std::min<size_t>(kStackWordsScanned - got, (0x1000 - (at & 0xfff)) / 8);
        if (n == 0 || !x86::read_gva(memory, x86::PagingState::from(*sregs), at, words + got, n * 8)) break;
        got += n;
        at += n * 8;
      }
      for (size_t i = 0; i < got && key.stack.size() < kStackAddressesKept; ++i)
        if (looks_like_kernel_text(words[i])) key.stack.push_back(words[i]);
    }
  }
  std::lock_guard lock(mu_);
  ++counts_[key];
  ++total_;
}

Result<void> GuestProfiler::write() const {
  std::lock_guard lock(mu_);  // rows point into counts_
  std::vector<std::pair<uint64_t, const Key*>> rows;
  for (const auto& [key, n] : counts_) rows.push_back({n, &key});
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string text = fmt::format(
      "# vessel-vmm guest profile: {} samples every {} us; columns: samples rip vcpu [kernel-text words on the stack]\n",
      total_.load(), interval_.count());
  for (const auto& [n, key] : rows) {
    text += fmt::format("{} {:#x} {}", n, key->rip, key->vcpu);
    for (uint64_t w : key->stack) text += fmt::format(" {:#x}", w);
    text += "\n";
  }
  return write_file(path_, text);
}

}  // namespace vessel::vmm
