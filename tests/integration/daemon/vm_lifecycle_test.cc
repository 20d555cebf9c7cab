// A VM through the whole lifecycle with a test-kit guest (boots in milliseconds), CLI ->
// vesseld -> vessel-vmm -> KVM; and a VM that outlives a SIGKILLed vesseld.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <thread>

#include "daemon_fixture.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

size_t count_lines(const std::string& text) {
  size_t n = 0, pos = 0;
  while ((pos = text.find("count ", pos)) != std::string::npos) ++n, ++pos;
  return n;
}

class VmLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  TempDir tmp;
  Daemon daemon{tmp.path, {"--vmm", vmm()}};
};

TEST_F(VmLifecycle, RunLogsPauseResumeStopStartDelete) {
  auto r = daemon.vessel({"run", "--vm", "--name", "vm1", "--kernel", guest("counter"), "--cmdline", "count=1000000",
                          "--memory", "64M", "--stop-timeout", "1"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto vm = daemon.vessel_json({"inspect", "vm1"});
  EXPECT_EQ(vm.value("type", ""), "vm");
  EXPECT_EQ(vm.value("state", ""), "running");
  pid_t pid = vm.value("pid", 0);
  EXPECT_TRUE(alive(pid));
  ASSERT_TRUE(eventually([&] { return count_lines(daemon.vessel({"logs", "vm1"}).out) >= 2; }))
      << daemon.vessel({"logs", "vm1"}).out;

  // Paused: vCPUs stopped, no new output.
  ASSERT_EQ(daemon.vessel({"pause", "vm1"}).status, 0) << daemon.log();
  EXPECT_EQ(state_of(daemon, "vm1"), "paused");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  size_t frozen = count_lines(daemon.vessel({"logs", "vm1"}).out);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(count_lines(daemon.vessel({"logs", "vm1"}).out), frozen);
  EXPECT_EQ(daemon.vessel({"pause", "vm1"}).status, 1);
  ASSERT_EQ(daemon.vessel({"resume", "vm1"}).status, 0);
  EXPECT_TRUE(eventually([&] { return count_lines(daemon.vessel({"logs", "vm1"}).out) > frozen; }));

  // The memory limit is on vessel-vmm's cgroup.
  auto stats = daemon.vessel_json({"stats", "--no-stream", "--json", "vm1"});
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].value("memory_limit_bytes", uint64_t{0}), 64ull << 20);
  EXPECT_GT(stats[0].value("cpu_ns", uint64_t{0}), 0u);

  // This guest ignores CtrlAltDel: the stop is forced after the 1 s timeout.
  ASSERT_EQ(daemon.vessel({"stop", "vm1"}).status, 0) << daemon.log();
  EXPECT_EQ(state_of(daemon, "vm1"), "stopped");
  EXPECT_FALSE(alive(pid));
  ASSERT_EQ(daemon.vessel({"start", "vm1"}).status, 0) << daemon.log();
  pid_t pid2 = daemon.vessel_json({"inspect", "vm1"}).value("pid", 0);
  EXPECT_NE(pid2, pid);
  EXPECT_TRUE(alive(pid2));
  ASSERT_EQ(daemon.vessel({"rm", "-f", "vm1"}).status, 0);
  EXPECT_FALSE(alive(pid2));
  EXPECT_TRUE(daemon.vessel_json({"ls", "-a", "--json"}).empty());
}

TEST_F(VmLifecycle, GuestPoweroffMarksItStopped) {
  ASSERT_EQ(daemon.vessel({"image", "import", "--vm", "--name", "hello", "--kernel", guest("hello"), "--cmdline", "greeting"}).status, 0);
  auto r = daemon.vessel({"run", "--vm", "--attach", "--name", "h", "hello"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("hello from the vessel test kit"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cmdline=[greeting"), std::string::npos) << r.out;
  EXPECT_TRUE(eventually([&] { return state_of(daemon, "h") == "stopped"; }));
  auto busy = daemon.vessel({"image", "rm", "hello"});
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.err.find("used by instance h"), std::string::npos) << busy.err;
}

TEST_F(VmLifecycle, VmSurvivesSigkilledDaemonAndIsAdopted) {
  ASSERT_EQ(daemon.vessel({"run", "--vm", "--name", "keep", "--kernel", guest("counter"), "--cmdline", "count=1000000",
                           "--memory", "32M", "--stop-timeout", "0"}).status, 0);
  pid_t pid = daemon.vessel_json({"inspect", "keep"}).value("pid", 0);
  daemon.stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(alive(pid)) << "vessel-vmm must outlive vesseld";
  Daemon second(tmp.path, {"--vmm", vmm()});
  ASSERT_TRUE(second.start()) << second.log();
  auto vm = second.vessel_json({"inspect", "keep"});
  EXPECT_EQ(vm.value("state", ""), "running");
  EXPECT_EQ(vm.value("pid", 0), pid);
  ASSERT_EQ(second.vessel({"pause", "keep"}).status, 0) << second.log();
  ASSERT_EQ(second.vessel({"resume", "keep"}).status, 0);
  ASSERT_EQ(second.vessel({"rm", "-f", "keep"}).status, 0);
  EXPECT_TRUE(eventually([&] { return !alive(pid); }));
}

}  // namespace
}  // namespace vessel::test
