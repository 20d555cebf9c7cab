// The timeslice rotation thread (daemon/instances/slice_rotation.h) with a recording writer, and
// SCHED_IDLE for a best-effort member's threads (daemon/policy/sched_idle.h) on a child process.
// Only orders and counts are asserted, never timings.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "daemon/instances/slice_rotation.h"
#include "daemon/policy/sched_idle.h"

namespace vessel::daemon {
namespace {

constexpr uint64_t kMs = 1'000'000;

class Recorder {
 public:
  SliceRotation::Write writer() {
    return [this](const LimitWrite& w) -> Result<void> {
      std::lock_guard lock(mutex_);
      writes_.push_back(w);
      return {};
    };
  }
  std::vector<LimitWrite> writes() {
    std::lock_guard lock(mutex_);
    return writes_;
  }
  // Waits (up to 10 s) until at least `n` writes were made.
  bool wait_for(size_t n) {
    for (int i = 0; i < 1000 && writes().size() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return writes().size() >= n;
  }

 private:
  std::mutex mutex_;
  std::vector<LimitWrite> writes_;
};

SliceSchedule two(uint64_t round_ns, bool with_b = true) {
  std::vector<SliceMember> m{{"a", "/p/a", 1, 1, 0}};
  if (with_b) m.push_back({"b", "/p/b", 2, 1, 0});
  return slice_schedule(m, round_ns);
}

LimitWrite on(const std::string& cgroup) { return {cgroup, on_turn_limit(1)}; }
LimitWrite off(const std::string& cgroup) { return {cgroup, kOffTurnLimit}; }
LimitWrite back_to_own(const std::string& cgroup) { return {cgroup, own_cpu_limit(1)}; }

TEST(SliceRotation, MembersTakeTurnsAndGetTheirLimitsBackWhenItStops) {
  Recorder r;
  {
    SliceRotation rotation("p", r.writer());
    rotation.set(two(30 * kMs));
    ASSERT_TRUE(r.wait_for(8)) << "turns are taken";
    EXPECT_EQ(rotation.schedule(), two(30 * kMs));
  }
  auto w = r.writes();
  ASSERT_GE(w.size(), 10u);
  // Start: b lowered, a raised; then each turn lowers the holder and raises the other.
  EXPECT_EQ(w[0], off("/p/b"));
  EXPECT_EQ(w[1], on("/p/a"));
  size_t turns_end = w.size() - 2;
  for (size_t i = 2; i + 1 < turns_end; i += 2) {
    bool to_b = (i / 2) % 2 == 1;
    EXPECT_EQ(w[i], off(to_b ? "/p/a" : "/p/b")) << i;
    EXPECT_EQ(w[i + 1], on(to_b ? "/p/b" : "/p/a")) << i;
  }
  // Stopped: both raised to their own limits.
  EXPECT_EQ(w[w.size() - 2], back_to_own("/p/a"));
  EXPECT_EQ(w[w.size() - 1], back_to_own("/p/b"));
}

TEST(SliceRotation, ANewScheduleRestoresTheMembersThatLeftIt) {
  Recorder r;
  SliceRotation rotation("p", r.writer());
  rotation.set(two(10'000 * kMs));  // turns of seconds: no turn passes during the test
  ASSERT_TRUE(r.wait_for(2));
  rotation.set(two(10'000 * kMs, /*with_b=*/false));
  ASSERT_TRUE(r.wait_for(4));
  auto w = r.writes();
  EXPECT_EQ(w[2], back_to_own("/p/b")) << "b left: its own limit back";
  EXPECT_EQ(w[3], on("/p/a")) << "a alone holds the CPU";
  // The same schedule again (a re-applied pool): the holder is written again, nothing else.
  rotation.set(two(10'000 * kMs, false));
  ASSERT_TRUE(r.wait_for(5));
  EXPECT_EQ(r.writes()[4], on("/p/a"));
}

TEST(SchedIdle, EveryThreadOfAProcessBecomesSchedIdle) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::thread([] { ::pause(); }).detach();
    ::pause();
    ::_exit(0);
  }
  // Both threads exist once /proc lists two tasks.
  for (int i = 0; i < 500; ++i) {
    auto set = set_threads_sched_idle({child});
    ASSERT_TRUE(set) << set.error().to_string();
    if (*set == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(::sched_getscheduler(child), SCHED_IDLE);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  auto gone = set_threads_sched_idle({child});
  ASSERT_TRUE(gone) << "a process that is gone is skipped";
  EXPECT_EQ(*gone, 0u);
}

}  // namespace
}  // namespace vessel::daemon
