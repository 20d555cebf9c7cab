// The fault checker's eyes (docs/cluster.md#fault-checker): a thread that counts, every 50 ms,
// the running copies of each instance from /proc (the processes themselves, not any API), and
// keeps the samples for the checker to judge.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/stop_signal.h"

namespace vessel::test {

using Clock = std::chrono::steady_clock;

struct CopySample {
  Clock::time_point at;
  std::vector<size_t> counts;  // copies per instance, in the order of the tokens
};

class CopySampler {
 public:
  explicit CopySampler(std::vector<std::string> tokens);
  ~CopySampler();
  CopySampler(const CopySampler&) = delete;
  CopySampler& operator=(const CopySampler&) = delete;

  // The samples taken at or after `from`.
  std::vector<CopySample> since(Clock::time_point from) const;
  // The latest sample (empty counts before the first).
  CopySample latest() const;
  // Drops the samples before `from` (a long run's memory).
  void forget_before(Clock::time_point from);

 private:
  void run();
  std::vector<std::string> tokens_;
  mutable std::mutex mutex_;
  std::vector<CopySample> samples_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace vessel::test
