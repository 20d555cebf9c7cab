// What a worker thread waits on between its rounds: a stop request from its owner (who then
// joins it) ends every wait at once; notify() wakes it early for work (a flag the caller set).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace vessel {

class StopSignal {
 public:
  void stop() {
    stopped_ = true;
    notify();
  }
  bool stopped() const { return stopped_.load(); }
  // Wakes a wait whose `woken` predicate the caller just made true. Taking the lock first means
  // a waiter either saw the change or is already waiting: no wake-up is lost.
  void notify() {
    { std::lock_guard lock(mutex_); }
    wake_.notify_all();
  }
  // Sleeps up to `period`, until stop(), or until `woken()` holds; true when stopped.
  template <typename Rep, typename Period, typename Pred>
  bool wait_for(std::chrono::duration<Rep, Period> period, Pred woken) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, period, [&] { return stopped_.load() || woken(); });
    return stopped_.load();
  }
  template <typename Rep, typename Period>
  bool wait_for(std::chrono::duration<Rep, Period> period) {
    return wait_for(period, [] { return false; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stopped_{false};
};

}  // namespace vessel
