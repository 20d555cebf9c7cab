// Restart policies and health checks for VMs (docs/daemon/restart.md, docs/daemon/health.md),
// with test-kit guests on /dev/kvm: a guest that exits with 42 is restarted by on-failure:2
// exactly twice; a guest without vessel-agent fails its health checks (they go through the
// agent) and is restarted by its policy.
#include <unistd.h>

#include "daemon_fixture.h"
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
  auto r = daemon.vessel({"run", "--vm", "--name", "exits", "--restart", "on-failure:2", "--kernel", guest("exit_code")});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  ASSERT_TRUE(eventually([&] { return inspect("exits").value("restart_count", 0) == 2 && inspect("exits").value("state", "") == "stopped"; }, 600))
      << inspect("exits").dump() << daemon.log();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto j = inspect("exits");
  EXPECT_EQ(j.value("state", ""), "stopped");
  EXPECT_EQ(j.value("restart_count", 0), 2);
  EXPECT_EQ(j.value("exit_code", 0), 42);
  EXPECT_EQ(j.value("restart", ""), "on-failure:2");
}

TEST_F(VmRestart, AGuestWithoutTheAgentTurnsUnhealthyAndIsRestarted) {
  auto r = daemon.vessel({"run", "--vm", "--name", "mute", "--restart", "always", "--stop-timeout", "1", "--health-cmd", "true",
                          "--health-interval", "200ms", "--health-timeout", "1s", "--health-retries", "2", "--kernel",
                          guest("counter"), "--cmdline", "count=100000000"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  EXPECT_EQ(inspect("mute")["health"].value("status", ""), "starting");
  ASSERT_TRUE(eventually([&] { return inspect("mute").value("restart_count", 0) >= 1; }, 600)) << inspect("mute").dump() << daemon.log();
  ASSERT_TRUE(eventually([&] { return inspect("mute").value("state", "") == "running"; }));
  // The new run starts over; the log of the last one said why it failed, before the restart.
  EXPECT_NE(daemon.log().find("mute: health starting -> unhealthy"), std::string::npos) << daemon.log();
  EXPECT_NE(daemon.log().find("mute: restart 1 in"), std::string::npos) << daemon.log();
  ASSERT_EQ(daemon.vessel({"stop", "--force", "mute"}).status, 0);
}

}  // namespace
}  // namespace vessel::test
