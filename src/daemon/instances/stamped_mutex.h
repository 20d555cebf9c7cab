// An instance's lock that also stamps: each acquisition takes a new number from one counter of
// the process, so a stamp read later and found equal shows that nothing has held the lock since
// (no start, no vessel cp, no import: every operation on an instance takes its lock). The stamps
// of one process are never reused, also across instances deleted and made again (0: never held).
// ClusterBackups skips the export of a stopped copy nobody touched (docs/cluster.md#storage).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace vessel::daemon {

class StampedMutex {
 public:
  void lock() {
    mutex_.lock();
    stamp_.store(next_.fetch_add(1) + 1);
  }
  bool try_lock() {
    if (!mutex_.try_lock()) return false;
    stamp_.store(next_.fetch_add(1) + 1);
    return true;
  }
  void unlock() { mutex_.unlock(); }
  // The stamp of the last acquisition; read by its holder, or by anyone to compare.
  uint64_t stamp() const { return stamp_.load(); }

 private:
  std::mutex mutex_;
  std::atomic<uint64_t> stamp_{0};
  static inline std::atomic<uint64_t> next_{0};
};

}  // namespace vessel::daemon
