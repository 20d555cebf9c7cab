// vessel suspend / resume of a VM (docs/daemon/suspend.md) with the test-kit counter guest: the
// VM is snapshotted into its directory, its vessel-vmm ends and its reservation is released;
// vesseld restarts; resume boots a fresh (jailed) vessel-vmm from the snapshot and the count goes
// on from the next number. Needs vessel-vmm to snapshot the vsock device every vesseld VM has.
#include <signal.h>
#include <unistd.h>

#include <regex>

#include "daemon_fixture.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

TEST(VmSuspend, CounterGoesOnAfterSuspendDaemonRestartAndResume) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  TempDir tmp;
  pid_t pid = 0;
  size_t before = 0;
  {
    Daemon d(tmp.path, {"--vmm", vmm()});
    ASSERT_TRUE(d.start()) << d.log();
    auto r = d.vessel({"run", "--vm", "--name", "vm1", "--kernel", guest("counter"), "--cmdline", "count=1000000",
                       "--memory", "64M", "--stop-timeout", "0"});
    ASSERT_EQ(r.status, 0) << r.err << d.log();
    pid = d.vessel_json({"inspect", "vm1"}).value("pid", 0);
    ASSERT_TRUE(eventually([&] { return logged_counts(d, "vm1").size() >= 3; })) << d.vessel({"logs", "vm1"}).out;
    auto s = d.vessel({"suspend", "vm1"});
    ASSERT_EQ(s.status, 0) << s.err << d.log();
    EXPECT_EQ(state_of(d, "vm1"), "suspended");
    EXPECT_TRUE(eventually([&] { return !alive(pid); })) << "its vessel-vmm ended";
    EXPECT_NE(d.vessel({"ls", "-a"}).out.find("Suspended"), std::string::npos) << "listed with -a, as stopped ones";
    EXPECT_TRUE(std::filesystem::exists(d.state_dir() + "/instances/vm1/suspended/vm.mem"));
    before = logged_counts(d, "vm1").size();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(logged_counts(d, "vm1").size(), before);
    EXPECT_NE(d.vessel({"checkpoint", "vm1"}).status, 0) << "a VM is suspended, not checkpointed";
    EXPECT_EQ(d.stop(SIGTERM).code, 0);
  }
  Daemon d(tmp.path, {"--vmm", vmm()});
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(state_of(d, "vm1"), "suspended");
  auto r = d.vessel({"resume", "vm1"});
  ASSERT_EQ(r.status, 0) << r.err << d.log() << d.vessel({"logs", "vm1"}).out;
  auto info = d.vessel_json({"inspect", "vm1"});
  EXPECT_EQ(info.value("state", ""), "running");
  pid_t pid2 = info.value("pid", 0);
  EXPECT_NE(pid2, pid);
  EXPECT_TRUE(alive(pid2));
  ASSERT_TRUE(eventually([&] { return logged_counts(d, "vm1").size() >= before + 2; }, 600)) << d.vessel({"logs", "vm1"}).out;
  auto c = logged_counts(d, "vm1");
  for (size_t i = 1; i < c.size(); ++i) ASSERT_EQ(c[i], c[i - 1] + 1) << d.vessel({"logs", "vm1"}).out;
  // Supervised as a started VM: suspended again, resumed, stopped, removed.
  ASSERT_EQ(d.vessel({"suspend", "vm1"}).status, 0) << d.log();
  ASSERT_EQ(d.vessel({"resume", "vm1"}).status, 0) << d.log();
  ASSERT_EQ(d.vessel({"stop", "vm1"}).status, 0) << d.log();
  EXPECT_EQ(state_of(d, "vm1"), "stopped");
  EXPECT_EQ(d.vessel({"rm", "vm1"}).status, 0);
}

}  // namespace
}  // namespace vessel::test
