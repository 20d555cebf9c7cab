// One thread that runs small tasks, now or after a delay, in deadline order: restart back-offs
// and health-check intervals. Other threads only post messages (a queue plus an eventfd, never
// shared state they act on); a task that may block (a start, a probe) hands itself to spawn(),
// so that one slow instance never delays another's timer.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/fd.h"

namespace vessel::daemon {

class TimerThread {
 public:
  using Task = std::function<void()>;
  using Clock = std::chrono::steady_clock;

  TimerThread();
  // Joins the thread and every spawned task; timers not yet due are dropped.
  ~TimerThread();
  TimerThread(const TimerThread&) = delete;
  TimerThread& operator=(const TimerThread&) = delete;

  // Runs `task` on the timer thread after `delay`, replacing the timer `key` had.
  void schedule(const std::string& key, std::chrono::milliseconds delay, Task task);
  void post(Task task) { schedule({}, std::chrono::milliseconds(0), std::move(task)); }
  // Drops `key`'s timer (false: it had none).
  bool cancel(const std::string& key);
  // Runs `task` on a thread of its own (joined by the destructor).
  void spawn(Task task);
  bool stopping() const { return stop_; }

 private:
  void run();
  void reap();

  struct Timer {
    Clock::time_point due;
    Task task;
  };
  std::mutex mutex_;
  std::multimap<Clock::time_point, std::pair<std::string, uint64_t>> order_;  // due -> (key, id)
  std::map<std::string, uint64_t> keyed_;  // key -> id of its timer
  std::map<uint64_t, Timer> timers_;
  uint64_t next_id_ = 1;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Worker> workers_;
  Result<EventFd> wake_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace vessel::daemon
