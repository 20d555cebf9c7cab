#include "block/io_pool.h"

#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace vessel::block {

namespace {

class Pool {
 public:
  explicit Pool(int workers) : owner_(getpid()) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int workers() const { return getpid() == owner_ ? static_cast<int>(threads_.size()) : 0; }

  void run(int n, const std::function<void(int)>& task) {
    int pending = n - 1;
    std::mutex done_mu;
    std::condition_variable done_cv;
    {
      std::lock_guard l(mu_);
      for (int i = 1; i < n; ++i)
        queue_.push_back([&, i] {
          task(i);
          std::lock_guard dl(done_mu);
          if (--pending == 0) done_cv.notify_one();
        });
    }
    cv_.notify_all();
    task(0);
    std::unique_lock dl(done_mu);
    done_cv.wait(dl, [&] { return pending == 0; });
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock l(mu_);
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (stop_ && queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  pid_t owner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

Pool& pool() {
  // Three helpers (a four-way split) even on two cores: page-cache copies overlap with faults.
  static Pool p(3);
  return p;
}

}  // namespace

int io_parallelism() { return pool().workers() + 1; }

void run_parallel(int n, const std::function<void(int)>& task) {
  if (n <= 1 || pool().workers() == 0) {
    for (int i = 0; i < n; ++i) task(i);
    return;
  }
  pool().run(n, task);
}

}  // namespace vessel::block
