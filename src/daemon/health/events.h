// Every state change as a JSON line, fanned out to GET /events streams. Keeps the last events in
// a ring so that a subscriber that falls behind loses the oldest ones, never blocks publishers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "base/json.h"

namespace vessel::daemon {

class EventBus {
 public:
  explicit EventBus(size_t keep = 4096) : keep_(keep) {}

  // Stamps the event with a sequence number and the time, then publishes it.
  void publish(json::Json event);
  // The sequence number the next event will carry (subscribe from here for new events only).
  uint64_t next_seq();
  // Waits up to `timeout_ms` for events with seq >= `from`; returns them as JSON lines and
  // advances `from`.
  std::string wait(uint64_t& from, int timeout_ms);
  void shutdown();
  bool stopped();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, std::string>> ring_;
  uint64_t next_ = 1;
  size_t keep_;
  bool stopped_ = false;
};

}  // namespace vessel::daemon
