// A small pool of threads that run virtio-blk requests off the device thread, so that a queue
// depth above one is served concurrently. Threads start on demand (a VM that never has two
// requests in flight never starts one) up to a fixed count. Jobs must not throw.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vessel::vmm::virtio::blk {

class IoWorkers {
 public:
  IoWorkers(unsigned max_threads, std::string thread_name, int nice = 0)
      : max_threads_(max_threads), name_(std::move(thread_name)), nice_(nice) {}
  ~IoWorkers();  // finishes what is queued, then joins
  IoWorkers(const IoWorkers&) = delete;
  IoWorkers& operator=(const IoWorkers&) = delete;

  void post(std::function<void()> job);
  // True when a posted job would start at once (a thread is idle or may still be started). With
  // one producer the answer holds until it posts.
  bool has_room() const;
  // Returns once no job is queued or running.
  void drain();
  unsigned threads() const;

 private:
  void loop();

  const unsigned max_threads_;
  const std::string name_;
  const int nice_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  unsigned idle_ = 0;     // threads waiting for a job
  unsigned running_ = 0;  // jobs being run
  bool stop_ = false;
};

}  // namespace vessel::vmm::virtio::blk
