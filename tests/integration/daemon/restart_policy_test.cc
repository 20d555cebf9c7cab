// Restart policies with a real vesseld and real containers (docs/daemon/restart.md): on-failure:N
// restarts exactly N times with a doubling back-off, `vessel stop` is never undone, and
// unless-stopped / always come back after vesseld restarts.
#include <fcntl.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "base/fd.h"
#include "daemon_fixture.h"
#include "event_log.h"

namespace vessel::test {
namespace {

int64_t restart_count(const Daemon& d, const std::string& name) {
  return d.vessel_json({"inspect", name}).value("restart_count", int64_t{-1});
}
std::vector<std::string> run_args(const std::string& name, const std::string& rootfs, const std::string& policy,
                                  const std::string& script) {
  return {"run", "--name", name, "--restart", policy, "--rootfs", rootfs, "--", "/bin/sh", "-c", script};
}

TEST(RestartPolicy, OnFailureThreeRestartsExactlyThreeTimesWithDoublingBackoff) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  EventLog events(d, tmp.path + "/events.jsonl");
  auto r = d.vessel(run_args("flaky", tmp.path + "/rootfs", "on-failure:3", "exit 3"));
  ASSERT_EQ(r.status, 0) << r.err << d.log();
  auto gave_up = [&] {
    for (const auto& e : events.of("flaky"))
      if (e.value("type", "") == "instance-restart-skipped") return true;
    return false;
  };
  ASSERT_TRUE(eventually(gave_up, 600)) << d.log();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // nothing more happens
  auto info = d.vessel_json({"inspect", "flaky"});
  EXPECT_EQ(info.value("restart_count", -1), 3);
  EXPECT_EQ(info.value("state", ""), "stopped");
  EXPECT_EQ(info.value("exit_code", -1), 3);
  EXPECT_EQ(info.value("restart", ""), "on-failure:3");

  // The timeline: each restart measured from the exit before it.
  std::vector<uint64_t> scheduled;
  std::vector<double> measured;
  double last_exit = 0;
  int starts = 0;
  std::ostringstream timeline;
  double t0 = 0;
  for (const auto& e : events.of("flaky")) {
    std::string type = e.value("type", "");
    double t = e.value("time", 0.0);
    if (t0 == 0) t0 = t;
    timeline << fmt::format("  +{:7.1f} ms  {} {}{}\n", (t - t0) * 1000, type, e.value("state", ""),
                            e.contains("delay_ms") ? fmt::format(" delay_ms={}", e["delay_ms"].get<uint64_t>()) : "");
    if (type == "instance-state" && e.value("state", "") == "stopped") last_exit = t;
    if (type == "instance-state" && e.value("state", "") == "running") ++starts;
    if (type == "instance-restart-backoff") scheduled.push_back(e.value("delay_ms", uint64_t{0}));
    if (type == "instance-restart") measured.push_back((t - last_exit) * 1000);
  }
  std::cout << "back-off timeline of flaky (on-failure:3, `exit 3`):\n" << timeline.str();
  EXPECT_EQ(scheduled, (std::vector<uint64_t>{100, 200, 400}));
  ASSERT_EQ(measured.size(), 3u);
  EXPECT_EQ(starts, 4) << "the run and three restarts";
  for (size_t i = 0; i < measured.size(); ++i) EXPECT_GE(measured[i], static_cast<double>(scheduled[i]) - 1) << i;
}

TEST(RestartPolicy, AlwaysRestartsCleanExitsButNeverUndoesAUserStop) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_EQ(d.vessel(run_args("loop", tmp.path + "/rootfs", "always", "sleep 0.3; exit 0")).status, 0) << d.log();
  ASSERT_TRUE(eventually([&] { return restart_count(d, "loop") >= 2; })) << d.log();
  auto stop = d.vessel({"stop", "-t", "1", "loop"});
  ASSERT_EQ(stop.status, 0) << stop.err;
  ASSERT_TRUE(eventually([&] { return state_of(d, "loop") == "stopped"; }));
  auto count = restart_count(d, "loop");
  std::this_thread::sleep_for(std::chrono::seconds(2));  // longer than any back-off it had reached
  EXPECT_EQ(state_of(d, "loop"), "stopped");
  EXPECT_EQ(restart_count(d, "loop"), count);
  // A user start is a fresh start: the count begins again.
  ASSERT_EQ(d.vessel({"start", "loop"}).status, 0);
  EXPECT_EQ(restart_count(d, "loop"), 0);
  ASSERT_EQ(d.vessel({"stop", "-t", "1", "loop"}).status, 0);
}

TEST(RestartPolicy, NoPolicyAndCleanOnFailureExitsStayStopped) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_EQ(d.vessel(run_args("clean", tmp.path + "/rootfs", "on-failure", "exit 0")).status, 0);
  ASSERT_EQ(d.vessel(run_args("plain", tmp.path + "/rootfs", "no", "exit 1")).status, 0);
  ASSERT_TRUE(eventually([&] { return state_of(d, "clean") == "stopped" && state_of(d, "plain") == "stopped"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(state_of(d, "clean"), "stopped");
  EXPECT_EQ(restart_count(d, "clean"), 0);
  EXPECT_EQ(restart_count(d, "plain"), 0);
  auto bad = d.vessel(run_args("bad", tmp.path + "/rootfs", "sometimes", "true"));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("restart policy"), std::string::npos) << bad.err;
}

TEST(RestartPolicy, UnlessStoppedAndAlwaysComeBackAfterVesseldRestarts) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  std::string rootfs = tmp.path + "/rootfs";
  pid_t dies = 0, plain = 0;
  {
    Daemon first(tmp.path);
    ASSERT_TRUE(first.start()) << first.log();
    ASSERT_EQ(first.vessel(run_args("dies", rootfs, "unless-stopped", "sleep 1000")).status, 0);
    ASSERT_EQ(first.vessel(run_args("held", rootfs, "unless-stopped", "sleep 1000")).status, 0);
    ASSERT_EQ(first.vessel(run_args("stubborn", rootfs, "always", "sleep 1000")).status, 0);
    ASSERT_EQ(first.vessel(run_args("plain", rootfs, "no", "sleep 1000")).status, 0);
    ASSERT_EQ(first.vessel({"stop", "-t", "1", "held", "stubborn"}).status, 0);
    dies = first.vessel_json({"inspect", "dies"}).value("pid", 0);
    plain = first.vessel_json({"inspect", "plain"}).value("pid", 0);
    first.stop(SIGKILL);
  }
  // Guests that die while no vesseld watches.
  ASSERT_EQ(::kill(dies, SIGKILL), 0);
  ASSERT_EQ(::kill(plain, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return !alive(dies) && !alive(plain); }));
  {
    Daemon second(tmp.path);
    ASSERT_TRUE(second.start()) << second.log();
    ASSERT_TRUE(eventually([&] { return state_of(second, "dies") == "running"; })) << second.log();
    ASSERT_TRUE(eventually([&] { return state_of(second, "stubborn") == "running"; }))
        << "always comes back with vesseld even after a stop (Docker)\n" << second.log();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(state_of(second, "held"), "stopped") << "unless-stopped: the user stopped it";
    EXPECT_EQ(state_of(second, "plain"), "stopped");
    EXPECT_EQ(restart_count(second, "dies"), 1);
    EXPECT_NE(second.vessel_json({"inspect", "dies"}).value("pid", 0), dies);
    second.stop(SIGKILL);
  }
  // The count is in the store: a third vesseld adopts the guest and still knows it.
  Daemon third(tmp.path);
  ASSERT_TRUE(third.start()) << third.log();
  EXPECT_EQ(state_of(third, "dies"), "running");
  EXPECT_EQ(restart_count(third, "dies"), 1);
}

}  // namespace
}  // namespace vessel::test
