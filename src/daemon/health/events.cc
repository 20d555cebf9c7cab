#include "daemon/health/events.h"

#include <chrono>

namespace vessel::daemon {

void EventBus::publish(json::Json event) {
  {
    std::lock_guard lock(mutex_);
    event["seq"] = next_;
    event["time"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    ring_.emplace_back(next_++, event.dump() + "\n");
    while (ring_.size() > keep_) ring_.pop_front();
  }
  cv_.notify_all();
}

uint64_t EventBus::next_seq() {
  std::lock_guard lock(mutex_);
  return next_;
}

std::string EventBus::wait(uint64_t& from, int timeout_ms) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return stopped_ || next_ > from; });
  std::string out;
  for (const auto& [seq, line] : ring_)
    if (seq >= from) out += line;
  from = next_;
  return out;
}

void EventBus::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool EventBus::stopped() {
  std::lock_guard lock(mutex_);
  return stopped_;
}

}  // namespace vessel::daemon
