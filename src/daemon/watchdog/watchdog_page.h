// The page vesseld shares with its cluster watchdog (docs/cluster.md#the-watchdog): a memfd that
// vesseld writes and vessel-watchdog only reads. It holds the processes of the node's running
// clustered copies, the cgroups of those copies and of the copies being started (published before
// their first process exists, so that a start under way is never unknown to the watchdog), and
// the moment after which they must be dead unless vesseld says otherwise again (its lease's
// earliest expiry minus a margin). Both lists are bounded (kMaxWatched, kMaxCgroups): vesseld
// refuses to start a clustered copy whose cgroup it cannot publish. A sequence number makes each
// update one snapshot (a seqlock): a reader that sees it odd, or changed while it read, keeps the
// snapshot it had; a vesseld stopped in the middle of an update therefore leaves the previous one
// in force.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::daemon::watchdog {

// A process to kill: PID plus start time (field 22 of /proc/PID/stat), never a reused PID.
struct WatchedProcess {
  int32_t pid = 0;
  int64_t start_time = 0;
};

// What the watchdog acts on: the copies' processes and cgroups (every process in them, in every
// hierarchy, is killed), and when to kill them (CLOCK_MONOTONIC nanoseconds, the clock of
// std::chrono::steady_clock; 0 = never).
struct Snapshot {
  uint64_t sequence = 0;
  int64_t kill_after_ns = 0;
  std::vector<WatchedProcess> processes;
  std::vector<std::string> cgroups;  // absolute cgroup paths ("/vessel/web"), as Manager::cgroup_of
};

inline constexpr uint32_t kMaxWatched = 4096;
inline constexpr uint32_t kMaxCgroups = 1024;
// A cgroup path's bytes at most (the slot holds one more, a NUL); a longer one is not published.
inline constexpr uint32_t kMaxCgroupPath = 255;

struct PageLayout {
  std::atomic<uint64_t> sequence;  // odd while vesseld writes
  std::atomic<int64_t> kill_after_ns;
  std::atomic<uint32_t> count;
  struct Slot {
    std::atomic<int32_t> pid;
    std::atomic<int64_t> start_time;
  } slots[kMaxWatched];
  std::atomic<uint32_t> cgroup_count;
  // A path's bytes packed eight to a word: atomics, so that a read racing a write is defined
  // (the sequence then tells the reader to discard it).
  struct CgroupSlot {
    std::atomic<uint64_t> words[(kMaxCgroupPath + 1) / 8];
  } cgroups[kMaxCgroups];
};

// The page over a memfd, mapped in either process.
class Page {
 public:
  // A new memfd of the page's size (vesseld).
  static Result<Page> create();
  // The memfd another process made (the watchdog, from its inherited descriptor).
  static Result<Page> open(int fd);
  int fd() const { return fd_.get(); }
  // vesseld: a new snapshot. Processes beyond kMaxWatched, cgroups beyond kMaxCgroups and paths
  // longer than kMaxCgroupPath are left out (the caller checks and logs it).
  void publish(const std::vector<WatchedProcess>& processes, const std::vector<std::string>& cgroups,
               int64_t kill_after_ns);
  // The watchdog: true with `out` filled when a consistent snapshot newer than `out` was read.
  bool read(Snapshot& out) const;

 private:
  Page(Fd fd, Mmap map) : fd_(std::move(fd)), map_(std::move(map)) {}
  PageLayout& layout() const { return *reinterpret_cast<PageLayout*>(map_.data()); }
  Fd fd_;
  Mmap map_;
};

}  // namespace vessel::daemon::watchdog
