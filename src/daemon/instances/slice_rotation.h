// The thread that carries one `timeslice` pool's turns (docs/daemon/pools.md): at each turn it
// writes what turn_writes() says (policy/timeslice.h) and sleeps until the next, on absolute
// deadlines so that late wake-ups do not add up. Other threads only post a new schedule (the
// latest wins) and stop it; it stops when destroyed, and every member gets its own limit back.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/error.h"
#include "daemon/policy/timeslice.h"

namespace vessel::daemon {

class SliceRotation {
 public:
  using Write = std::function<Result<void>(const LimitWrite&)>;

  // `write`: policy/slice_cgroups.h's write_cpu_limit in vesseld; a recorder in the tests.
  SliceRotation(std::string pool, Write write);
  ~SliceRotation();
  SliceRotation(const SliceRotation&) = delete;
  SliceRotation& operator=(const SliceRotation&) = delete;

  // The new schedule starts at once, from its first member's turn; members of the old one that
  // take no turn in it get their own limit back. An unchanged schedule keeps its rhythm, and the
  // turn in force is written again (a re-applied plan may have lifted a quota).
  void set(SliceSchedule next);
  // The schedule in force (for `pool inspect`).
  SliceSchedule schedule() const;

 private:
  void run();
  void write_all(const std::vector<LimitWrite>& writes);

  std::string pool_;
  Write write_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<SliceSchedule> pending_;
  SliceSchedule current_;  // written by the thread, read under mutex_
  bool stop_ = false;
  bool warned_ = false;  // one warning per schedule, not one per turn
  std::thread thread_;
};

}  // namespace vessel::daemon
