#include "vmm/devices/virtio/block/io_workers.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vmm/sandbox/seccomp.h"

namespace vessel::vmm::virtio::blk {

IoWorkers::~IoWorkers() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void IoWorkers::post(std::function<void()> job) {
  std::lock_guard lock(mu_);
  jobs_.push_back(std::move(job));
  // Start another thread when every existing one is busy, up to the limit.
  if (idle_ < jobs_.size() && threads_.size() < max_threads_) threads_.emplace_back([this] { loop(); });
  work_cv_.notify_one();
}

bool IoWorkers::has_room() const {
  std::lock_guard lock(mu_);
  return idle_ > jobs_.size() || threads_.size() < max_threads_;
}

void IoWorkers::drain() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return jobs_.empty() && running_ == 0; });
}

unsigned IoWorkers::threads() const {
  std::lock_guard lock(mu_);
  return static_cast<unsigned>(threads_.size());
}

void IoWorkers::loop() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  if (nice_ != 0) (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice_);
  sandbox::enter(sandbox::ThreadKind::BlockIo);
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    work_cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty()) return;  // stop_ and nothing left
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    ++running_;
    lock.unlock();
    job();
    lock.lock();
    --running_;
    if (jobs_.empty() && running_ == 0) idle_cv_.notify_all();
  }
}

}  // namespace vessel::vmm::virtio::blk
