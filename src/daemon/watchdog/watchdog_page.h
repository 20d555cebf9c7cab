// The page vesseld shares with its cluster watchdog (docs/cluster.md#the-watchdog): a memfd that
// vesseld writes and vessel-watchdog only reads. It holds the processes of the node's running
// clustered copies and the moment after which they must be dead unless vesseld says otherwise
// again (its lease's earliest expiry minus a margin). A sequence number makes each update one
// snapshot (a seqlock): a reader that sees it odd, or changed while it read, keeps the snapshot
// it had; a vesseld stopped in the middle of an update therefore leaves the previous one in force.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::daemon::watchdog {

// A process to kill: PID plus start time (field 22 of /proc/PID/stat), never a reused PID.
struct WatchedProcess {
  int32_t pid = 0;
  int64_t start_time = 0;
};

// What the watchdog acts on: the copies, and when to kill them (CLOCK_MONOTONIC nanoseconds,
// the clock of std::chrono::steady_clock; 0 = never).
struct Snapshot {
  uint64_t sequence = 0;
  int64_t kill_after_ns = 0;
  std::vector<WatchedProcess> processes;
};

inline constexpr uint32_t kMaxWatched = 4096;

struct PageLayout {
  std::atomic<uint64_t> sequence;  // odd while vesseld writes
  std::atomic<int64_t> kill_after_ns;
  std::atomic<uint32_t> count;
  struct Slot {
    std::atomic<int32_t> pid;
    std::atomic<int64_t> start_time;
  } slots[kMaxWatched];
};

// The page over a memfd, mapped in either process.
class Page {
 public:
  // A new memfd of the page's size (vesseld).
  static Result<Page> create();
  // The memfd another process made (the watchdog, from its inherited descriptor).
  static Result<Page> open(int fd);
  int fd() const { return fd_.get(); }
  // vesseld: a new snapshot. Copies beyond kMaxWatched are left out (the caller logs it).
  void publish(const std::vector<WatchedProcess>& processes, int64_t kill_after_ns);
  // The watchdog: true with `out` filled when a consistent snapshot newer than `out` was read.
  bool read(Snapshot& out) const;

 private:
  Page(Fd fd, Mmap map) : fd_(std::move(fd)), map_(std::move(map)) {}
  PageLayout& layout() const { return *reinterpret_cast<PageLayout*>(map_.data()); }
  Fd fd_;
  Mmap map_;
};

}  // namespace vessel::daemon::watchdog
