// Restart policies and health checks for VMs (docs/daemon/restart.md, docs/daemon/health.md),
// with test-kit guests on /dev/kvm: a guest that exits with 42 is restarted by on-failure:2
// exactly twice; a guest without vessel-agent fails its health checks (they go through the
// agent) and is restarted by its policy; a guest that hangs is caught by its watchdog, which
// counts as a failure for on-failure.
#include <unistd.h>

#include "daemon_fixture.h"
#include "event_log.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

class VmRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  json::Json inspect(const std::string& name) { return daemon.vessel_json({"inspect", name}); }
  TempDir tmp;
  Daemon daemon{tmp.path, {"--vmm", vmm()}};
};

TEST_F(VmRestart, OnFailureRestartsAFailingGuestExactlyTwice) {
  EventLog events(daemon, tmp.path + "/events.jsonl");
  auto r = daemon.vessel({"run", "--vm", "--name", "exits", "--restart", "on-failure:2", "--kernel", guest("exit_code")});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto skipped = [&] {
    for (const auto& e : events.of("exits"))
      if (e.value("type", "") == "instance-restart-skipped") return true;
    return false;
  };
  // The third exit ends it: the policy gives up after its two restarts.
  ASSERT_TRUE(eventually(skipped, 600)) << inspect("exits").dump() << daemon.log();
  auto j = inspect("exits");
  EXPECT_EQ(j.value("state", ""), "stopped");
  EXPECT_EQ(j.value("restart_count", 0), 2);
  EXPECT_EQ(j["exit_code"], json::Json(42)) << j.dump() << daemon.log();  // null if a restart failed to start
  EXPECT_EQ(j.value("restart", ""), "on-failure:2");
}

TEST_F(VmRestart, AGuestWithoutTheAgentTurnsUnhealthyAndIsRestarted) {
  auto r = daemon.vessel({"run", "--vm", "--name", "mute", "--restart", "always", "--stop-timeout", "1", "--health-cmd", "true",
                          "--health-interval", "200ms", "--health-timeout", "1s", "--health-retries", "2", "--kernel",
                          guest("counter"), "--cmdline", "count=100000000"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  // The first checks may already have failed by now (a slow host): starting or unhealthy, never healthy.
  std::string first = inspect("mute")["health"].value("status", "");
  EXPECT_TRUE(first == "starting" || first == "unhealthy") << first;
  ASSERT_TRUE(eventually([&] { return inspect("mute").value("restart_count", 0) >= 1; }, 600)) << inspect("mute").dump() << daemon.log();
  ASSERT_TRUE(eventually([&] { return inspect("mute").value("state", "") == "running"; }));
  // The new run starts over; the log of the last one said why it failed, before the restart.
  EXPECT_NE(daemon.log().find("mute: health starting -> unhealthy"), std::string::npos) << daemon.log();
  EXPECT_NE(daemon.log().find("mute: restart 1 in"), std::string::npos) << daemon.log();
  ASSERT_EQ(daemon.vessel({"stop", "--force", "mute"}).status, 0);
}

// The test-kit guest `watchdog` pets its IB700 once, then hangs with interrupts off: only the
// watchdog ends it (exit reason "watchdog", status 4), and on-failure:1 starts it once more.
TEST_F(VmRestart, AHungGuestIsCaughtByItsWatchdogAndRestarted) {
  EventLog events(daemon, tmp.path + "/events.jsonl");
  auto r = daemon.vessel({"run", "--vm", "--name", "hung", "--restart", "on-failure:1", "--watchdog", "--kernel",
                          guest("watchdog"), "--cmdline", "value=14 pets=1"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  EXPECT_EQ(inspect("hung").value("watchdog", ""), "reset") << inspect("hung").dump();
  auto count = [&](const char* type) {
    int n = 0;
    for (const auto& e : events.of("hung")) n += e.value("type", "") == type;
    return n;
  };
  // The second expiry ends it for good: the policy gave up after its one restart.
  ASSERT_TRUE(eventually([&] { return count("instance-restart-skipped") == 1; }, 1200)) << inspect("hung").dump() << daemon.log();
  auto j = inspect("hung");
  EXPECT_EQ(j.value("state", ""), "stopped") << j.dump();
  EXPECT_EQ(j.value("restart_count", 0), 1) << j.dump();
  EXPECT_EQ(j.value("exit_reason", ""), "watchdog") << j.dump();
  EXPECT_EQ(j["exit_code"], json::Json(4)) << j.dump() << daemon.log();
  int watchdogs = count("instance-watchdog"), restarts = count("instance-restart");
  EXPECT_EQ(watchdogs, 2) << daemon.log();  // the first run and the restarted one
  EXPECT_EQ(restarts, 1) << daemon.log();
}

}  // namespace
}  // namespace vessel::test
