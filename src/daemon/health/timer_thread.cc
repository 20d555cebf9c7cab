#include "daemon/health/timer_thread.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <vector>

namespace vessel::daemon {

TimerThread::TimerThread() : wake_(EventFd::create(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  thread_ = std::thread([this] { run(); });
}

TimerThread::~TimerThread() {
  stop_ = true;
  if (wake_) (void)wake_->signal();
  thread_.join();
  std::list<Worker> workers;
  {
    std::lock_guard lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& w : workers) w.thread.join();
}

void TimerThread::schedule(const std::string& key, std::chrono::milliseconds delay, Task task) {
  {
    std::lock_guard lock(mutex_);
    uint64_t id = next_id_++;
    if (!key.empty()) {
      if (auto it = keyed_.find(key); it != keyed_.end()) timers_.erase(it->second);  // its order_ entry goes stale
      keyed_[key] = id;
    }
    auto due = Clock::now() + delay;
    timers_[id] = Timer{due, std::move(task)};
    order_.emplace(due, std::make_pair(key, id));
  }
  if (wake_) (void)wake_->signal();
}

bool TimerThread::cancel(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = keyed_.find(key);
  if (it == keyed_.end()) return false;
  timers_.erase(it->second);
  keyed_.erase(it);
  return true;
}

void TimerThread::spawn(Task task) {
  reap();
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(mutex_);
  if (stop_) return;
  workers_.push_back(Worker{std::thread([task = std::move(task), done] {
                              task();
                              *done = true;
                            }),
                            done});
}

void TimerThread::reap() {
  std::list<Worker> finished;
  {
    std::lock_guard lock(mutex_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      auto next = std::next(it);
      if (*it->done) finished.splice(finished.end(), workers_, it);
      it = next;
    }
  }
  for (auto& w : finished) w.thread.join();
}

void TimerThread::run() {
  while (!stop_) {
    Task due_task;
    int timeout_ms = 1000;
    {
      std::lock_guard lock(mutex_);
      while (!order_.empty()) {
        auto first = order_.begin();
        auto timer = timers_.find(first->second.second);
        if (timer == timers_.end()) {  // cancelled or replaced
          order_.erase(first);
          continue;
        }
        auto now = Clock::now();
        if (first->first <= now) {
          due_task = std::move(timer->second.task);
          if (auto k = keyed_.find(first->second.first); k != keyed_.end() && k->second == first->second.second)
            keyed_.erase(k);
          timers_.erase(timer);
          order_.erase(first);
        } else {
          auto wait = std::chrono::ceil<std::chrono::milliseconds>(first->first - now).count();
          timeout_ms = static_cast<int>(std::min<int64_t>(wait, 1000));
        }
        break;
      }
    }
    if (due_task) {
      due_task();
      continue;
    }
    reap();
    pollfd fd{wake_ ? wake_->fd() : -1, POLLIN, 0};
    if (::poll(&fd, 1, timeout_ms) > 0 && wake_) (void)wake_->consume();
  }
}

}  // namespace vessel::daemon
