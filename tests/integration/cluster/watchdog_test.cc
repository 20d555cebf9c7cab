// The node-local watchdog (docs/cluster.md#the-watchdog) with real vesselds on a real etcd: a
// vesseld killed with SIGKILL, or paused with SIGSTOP past its lease, leaves its container
// processes behind; the watchdog kills the clustered ones (never the node's local instances), so
// that the copy another node starts is the only one, and a resumed vesseld never runs its old one.
// A copy whose start was under way when vesseld died (its processes ran, vesseld had not recorded
// them) dies too: the watchdog knew its cgroup from before the start.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "base/fd.h"
#include "cluster_fixture.h"
#include "etcd_server.h"

namespace vessel::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The watchdog of the vesseld with this PID, by its command line (0 when there is none).
pid_t watchdog_of(pid_t vesseld) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    auto cmdline = read_file((entry.path() / "cmdline").string());
    if (cmdline && cmdline->find("vessel-watchdog") != std::string::npos &&
        cmdline->find(std::string("--vesseld") + '\0' + std::to_string(vesseld) + '\0') != std::string::npos)
      return std::stoi(entry.path().filename().string());
  }
  return 0;
}

class ClusterWatchdog : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(etcd_.start(&error)) << error;
    make_busybox_rootfs(images_.path + "/rootfs");
    nodes_ = make_nodes(2, etcd_.url(), "3");
    for (auto& n : nodes_) ASSERT_TRUE(n->daemon->start()) << n->daemon->log();
    ASSERT_EQ(run_clustered(*nodes_[0]->daemon, "web", images_.path + "/rootfs", token_).status, 0);
    ASSERT_TRUE(eventually([&] { return copies(token_).size() == 1; }, 400)) << logs();
    holder_ = placement_of(*nodes_[0]->daemon, "web").first == "node-1" ? nodes_[0].get() : nodes_[1].get();
    other_ = holder_ == nodes_[0].get() ? nodes_[1].get() : nodes_[0].get();
    // A local (not clustered) instance on the same node: the watchdog must leave it alone.
    auto local = holder_->daemon->vessel({"run", "--name", "local", "--rootfs", images_.path + "/rootfs", "--", "/bin/sh",
                                          "-c", "while :; do sleep 1; done", local_token_});
    ASSERT_EQ(local.status, 0) << local.err;
    ASSERT_TRUE(eventually([&] { return copies(local_token_).size() == 1; })) << logs();
  }
  void TearDown() override {
    for (pid_t p : copies(local_token_)) ::kill(p, SIGKILL);  // its vesseld may have been killed
  }
  std::string logs() const {
    std::string out;
    for (const auto& n : nodes_) out += n->daemon->log();
    return out;
  }
  // The other node runs the only copy (a new process); never two on the way.
  void expect_moved_once(pid_t old) {
    size_t most = 0;
    bool moved = eventually([&] {
      auto now = copies(token_);
      most = std::max(most, now.size());
      return now.size() == 1 && now[0] != old && placement_of(*other_->daemon, "web") == std::pair<std::string, std::string>(other_->name, "running");
    }, 300);
    EXPECT_TRUE(moved) << logs();
    EXPECT_LE(most, 1u) << "two copies ran at once";
  }
  EtcdServer etcd_;
  TempDir images_;
  std::vector<std::unique_ptr<Node>> nodes_;
  Node* holder_ = nullptr;
  Node* other_ = nullptr;
  std::string token_ = "vessel-watchdog-" + std::to_string(::getpid());
  std::string local_token_ = "vessel-watchdog-local-" + std::to_string(::getpid());
};

TEST_F(ClusterWatchdog, AKilledVesseldsClusteredCopyDiesAtOnceAndItsLocalInstanceRuns) {
  auto old = copies(token_);
  ASSERT_EQ(old.size(), 1u);
  auto local = copies(local_token_);
  holder_->daemon->stop(SIGKILL);  // vesseld alone: its container processes are left running
  auto killed = Clock::now();
  ASSERT_TRUE(eventually([&] { return copies(token_).empty(); }, 100)) << "the clustered copy outlived vesseld";
  double took = std::chrono::duration<double>(Clock::now() - killed).count();
  EXPECT_LT(took, 1.0);
  expect_moved_once(old[0]);
  EXPECT_EQ(copies(local_token_), local) << "the watchdog killed a local instance";
  EXPECT_NE(holder_->daemon->log().find("vesseld exited"), std::string::npos) << holder_->daemon->log();
  fmt::print("the watchdog killed the copy {:.3f} s after vesseld\n", took);
}

TEST_F(ClusterWatchdog, APausedVesseldsCopyDiesBeforeItsLeaseCanExpireAndStaysDeadWhenItResumes) {
  auto old = copies(token_);
  ASSERT_EQ(old.size(), 1u);
  auto local = copies(local_token_);
  // Healthy: nothing is killed.
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(copies(token_), old) << logs();
  ASSERT_EQ(::kill(holder_->daemon->pid(), SIGSTOP), 0);
  auto stopped = Clock::now();
  bool died = eventually([&] { return copies(token_).empty(); }, 100);
  double took = std::chrono::duration<double>(Clock::now() - stopped).count();
  if (!died) ::kill(holder_->daemon->pid(), SIGCONT);
  ASSERT_TRUE(died) << logs();
  // Killed before the lease (TTL 3 s, renewed at most a second before the pause) could expire.
  EXPECT_LT(took, 3.0);
  expect_moved_once(old[0]);
  ASSERT_EQ(::kill(holder_->daemon->pid(), SIGCONT), 0);
  // Resumed: its copy stays dead (the cluster moved it), and no second copy ever runs.
  auto until = Clock::now() + 4s;
  while (Clock::now() < until) {
    ASSERT_LE(copies(token_).size(), 1u) << logs();
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(copies(token_).size(), 1u) << logs();
  EXPECT_EQ(placement_of(*holder_->daemon, "web").first, other_->name) << logs();
  EXPECT_EQ(copies(local_token_), local) << "the watchdog killed a local instance";
  fmt::print("the watchdog killed the copy {:.2f} s after vesseld was paused (lease TTL 3 s)\n", took);
}

// A watchdog that dies is started again by its vesseld, which still guards its copies with it.
TEST_F(ClusterWatchdog, AWatchdogThatDiesIsStartedAgain) {
  pid_t first = watchdog_of(holder_->daemon->pid());
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  pid_t second = 0;
  ASSERT_TRUE(eventually([&] { return (second = watchdog_of(holder_->daemon->pid())) > 0 && second != first; }))
      << holder_->daemon->log();
  EXPECT_NE(holder_->daemon->log().find("the watchdog exited"), std::string::npos);
  ASSERT_EQ(copies(token_).size(), 1u);  // the copy ran on
  holder_->daemon->stop(SIGKILL);
  EXPECT_TRUE(eventually([&] { return copies(token_).empty(); }, 40)) << "the new watchdog did not kill the copy";
}

// vesseld killed in the middle of a clustered copy's start: the container's shell runs (the runtime
// created and started it) but vesseld has recorded nothing yet, neither its PID nor that it runs.
// The test hook VESSEL_TEST_DIE_AT=after-launch:web makes vesseld kill itself (SIGKILL) at that
// point. The watchdog had the copy's cgroup from before the start: it kills the copy, leaves the
// node's local instance alone, and the copy the other node starts once the lease expired is the
// only one.
TEST(ClusterWatchdogStart, ACopyWhoseStartWasUnderWayWhenVesseldDiedIsKilled) {
  EtcdServer etcd;
  std::string error;
  ASSERT_TRUE(etcd.start(&error)) << error;
  TempDir images;
  make_busybox_rootfs(images.path + "/rootfs");
  auto nodes = make_nodes(2, etcd.url(), "3");
  Node& dying = *nodes[0];
  Node& other = *nodes[1];
  dying.daemon->set_launcher({"env", "VESSEL_TEST_DIE_AT=after-launch:web"});
  ASSERT_TRUE(dying.daemon->start()) << dying.daemon->log();
  std::string token = "vessel-watchdog-start-" + std::to_string(::getpid());
  std::string local_token = "vessel-watchdog-start-local-" + std::to_string(::getpid());
  // Whatever the outcome, nothing of the test runs on, and the dead vesseld's groups go (before
  // the nodes' cgroup parents, which are removed once empty).
  struct Cleanup {
    std::vector<std::string> tokens;
    std::string parent;
    ~Cleanup() {
      for (const auto& t : tokens)
        for (pid_t p : copies(t)) ::kill(p, SIGKILL);
      eventually([&] { return copies(tokens[0]).empty() && copies(tokens[1]).empty(); }, 40);
      for (const char* name : {"/web", "/local"}) remove_cgroup_parent(parent + name);
    }
  } cleanup{{token, local_token}, dying.cgroup.name};
  auto local = dying.daemon->vessel({"run", "--name", "local", "--rootfs", images.path + "/rootfs", "--", "/bin/sh",
                                     "-c", "while :; do sleep 1; done", local_token});
  ASSERT_EQ(local.status, 0) << local.err;
  ASSERT_TRUE(eventually([&] { return copies(local_token).size() == 1; })) << dying.daemon->log();
  auto local_pids = copies(local_token);
  // node-1 is the only node: the copy is placed there. The answer may not come (vesseld may die
  // first); the hook's line in the log says the start got that far.
  (void)run_clustered(*dying.daemon, "web", images.path + "/rootfs", token);
  ASSERT_TRUE(eventually([&] { return dying.daemon->log().find("test hook VESSEL_TEST_DIE_AT") != std::string::npos; }, 400))
      << dying.daemon->log();
  ASSERT_TRUE(eventually([&] { return !alive(dying.daemon->pid()); })) << "the test hook did not kill vesseld";
  auto died = Clock::now();
  // Neither the fence (gone with vesseld) nor the page's PIDs (none yet) knew of this copy.
  ASSERT_TRUE(eventually([&] { return copies(token).empty(); }, 100))
      << "the copy whose start was under way outlived vesseld\n" << dying.daemon->log();
  double took = std::chrono::duration<double>(Clock::now() - died).count();
  // The watchdog logs once the groups are empty (the killed processes reaped by their parents).
  EXPECT_TRUE(eventually([&] { return dying.daemon->log().find("in the cgroups of") != std::string::npos; }, 200))
      << dying.daemon->log();
  EXPECT_EQ(copies(local_token), local_pids) << "the watchdog killed a local instance";
  // The other node takes the instance over once node-1's lease expired: one copy, never two.
  ASSERT_TRUE(other.daemon->start()) << other.daemon->log();
  size_t most = 0;
  bool moved = eventually([&] {
    auto now = copies(token);
    most = std::max(most, now.size());
    return now.size() == 1 && placement_of(*other.daemon, "web") == std::pair<std::string, std::string>(other.name, "running");
  }, 400);
  EXPECT_TRUE(moved) << other.daemon->log();
  EXPECT_LE(most, 1u) << "two copies ran at once";
  EXPECT_EQ(copies(local_token), local_pids) << "the watchdog killed a local instance";
  std::string log = dying.daemon->log();
  size_t at = log.find("killed ", log.find("vessel-watchdog"));
  fmt::print("the watchdog killed the copy whose start was under way, seen dead {:.3f} s after vesseld; it says: {}\n",
             took, at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at));
}

}  // namespace
}  // namespace vessel::test
