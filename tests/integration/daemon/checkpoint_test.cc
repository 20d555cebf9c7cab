// Containers checkpointed with CRIU and restored through vesseld (docs/daemon/suspend.md): a shell
// that counts in a shell variable (its state only in memory) goes on from the next count after
// restore, also across a vesseld restart; the restored container is supervised again (logs, exit
// status, stop, rm). Needs a kernel Debian's criu 3.17 works on (`criu check`): the nested KVM
// host's; label criu.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

const std::vector<std::string> kCounter{"--", "/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo n=$i; sleep 0.1; done"};

// The counts the container printed, in order.
std::vector<int> counts(const Daemon& d, const std::string& name) {
  std::vector<int> out;
  std::string text = d.vessel({"logs", name}).out;
  std::regex line("n=([0-9]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it)
    out.push_back(std::stoi((*it)[1]));
  return out;
}

void expect_consecutive(const std::vector<int>& c) {
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.front(), 1);
  for (size_t i = 1; i < c.size(); ++i) ASSERT_EQ(c[i], c[i - 1] + 1) << "count " << i << " of " << c.size();
}

TEST(ContainerCheckpoint, GoesOnFromTheNextCountAcrossADaemonRestart) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  size_t before = 0;
  pid_t old_pid = 0;
  {
    Daemon d(tmp.path);
    ASSERT_TRUE(d.start()) << d.log();
    std::vector<std::string> run{"run", "--name", "counter", "--rootfs", tmp.path + "/rootfs"};
    run.insert(run.end(), kCounter.begin(), kCounter.end());
    ASSERT_EQ(d.vessel(run).status, 0) << d.log();
    ASSERT_TRUE(eventually([&] { return counts(d, "counter").size() >= 5; }));
    old_pid = d.vessel_json({"inspect", "counter"}).value("pid", 0);
    auto ck = d.vessel({"checkpoint", "counter"});
    ASSERT_EQ(ck.status, 0) << ck.err << d.log();
    EXPECT_EQ(state_of(d, "counter"), "checkpointed");
    EXPECT_FALSE(alive(old_pid)) << "the checkpointed process is gone";
    EXPECT_NE(d.vessel({"ls", "-a"}).out.find("Checkpointed"), std::string::npos) << d.vessel({"ls", "-a"}).out;
    before = counts(d, "counter").size();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(counts(d, "counter").size(), before) << "nothing counts while checkpointed";
    // Not startable, not pausable: restore (or resume) it, or stop it to discard the checkpoint.
    auto start = d.vessel({"start", "counter"});
    EXPECT_NE(start.status, 0);
    EXPECT_NE(start.err.find("checkpointed"), std::string::npos) << start.err;
    EXPECT_EQ(d.stop(SIGTERM).code, 0);
  }
  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(state_of(d, "counter"), "checkpointed") << "the state survives a vesseld restart";
  auto rs = d.vessel({"restore", "counter"});
  ASSERT_EQ(rs.status, 0) << rs.err << d.log();
  auto info = d.vessel_json({"inspect", "counter"});
  EXPECT_EQ(info.value("state", ""), "running");
  pid_t pid = info.value("pid", 0);
  EXPECT_GT(pid, 0);
  EXPECT_NE(pid, old_pid);
  ASSERT_TRUE(eventually([&] { return counts(d, "counter").size() >= before + 5; }));
  expect_consecutive(counts(d, "counter"));  // from the next count, not from 1

  // Supervised again: suspend = checkpoint for a container, resume = restore; exec; stop; rm.
  ASSERT_EQ(d.vessel({"suspend", "counter"}).status, 0) << d.log();
  EXPECT_EQ(state_of(d, "counter"), "checkpointed");
  ASSERT_EQ(d.vessel({"resume", "counter"}).status, 0) << d.log();
  EXPECT_EQ(state_of(d, "counter"), "running");
  size_t now = counts(d, "counter").size();
  ASSERT_TRUE(eventually([&] { return counts(d, "counter").size() >= now + 3; }));
  expect_consecutive(counts(d, "counter"));
  auto exec = d.vessel({"exec", "counter", "--", "/bin/echo", "inside"});
  EXPECT_EQ(exec.out, "inside\n") << exec.err;
  pid = d.vessel_json({"inspect", "counter"}).value("pid", 0);
  ::kill(pid, SIGKILL);  // the restored init's end is noticed, with its status
  ASSERT_TRUE(eventually([&] { return state_of(d, "counter") == "stopped"; })) << d.log();
  EXPECT_EQ(d.vessel_json({"inspect", "counter"}).value("exit_code", 0), 137);
  EXPECT_EQ(d.vessel({"rm", "counter"}).status, 0);
}

TEST(ContainerCheckpoint, LeaveRunningAndDiscard) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  std::vector<std::string> run{"run", "--name", "c", "--rootfs", tmp.path + "/rootfs"};
  run.insert(run.end(), kCounter.begin(), kCounter.end());
  ASSERT_EQ(d.vessel(run).status, 0) << d.log();
  ASSERT_TRUE(eventually([&] { return counts(d, "c").size() >= 3; }));
  pid_t pid = d.vessel_json({"inspect", "c"}).value("pid", 0);
  auto ck = d.vessel({"checkpoint", "--leave-running", "c"});
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_EQ(state_of(d, "c"), "running");
  EXPECT_TRUE(alive(pid));
  size_t n = counts(d, "c").size();
  EXPECT_TRUE(eventually([&] { return counts(d, "c").size() > n + 2; })) << "it goes on counting";
  // restore is only for a checkpointed container.
  EXPECT_NE(d.vessel({"restore", "c"}).status, 0);
  ASSERT_EQ(d.vessel({"checkpoint", "c"}).status, 0) << d.log();
  EXPECT_FALSE(alive(pid));
  // stop discards the checkpoint: the next start begins from 1.
  ASSERT_EQ(d.vessel({"stop", "c"}).status, 0) << d.log();
  EXPECT_EQ(state_of(d, "c"), "stopped");
  EXPECT_FALSE(std::filesystem::exists(d.state_dir() + "/instances/c/checkpoint"));
  EXPECT_EQ(d.vessel({"rm", "c"}).status, 0);
}

// podman's --export / --import: the checkpoint of one container, as a tar, restored into another
// created from the same root filesystem; it goes on counting in the new one's log, and has the
// first one's changes to its files: a file written, a file deleted (an overlayfs whiteout), a
// directory replaced (an opaque one: what was below it stays hidden).
TEST(ContainerCheckpoint, ExportedAndImportedIntoAnotherContainer) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  std::filesystem::create_directories(tmp.path + "/rootfs/data");
  std::ofstream(tmp.path + "/rootfs/data/old.txt") << "below";
  std::ofstream(tmp.path + "/rootfs/gone.txt") << "below";
  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  std::vector<std::string> run{"run", "--name", "a", "--rootfs", tmp.path + "/rootfs"};
  run.insert(run.end(), kCounter.begin(), kCounter.end());
  ASSERT_EQ(d.vessel(run).status, 0) << d.log();
  ASSERT_TRUE(eventually([&] { return counts(d, "a").size() >= 5; }));
  auto changed = d.vessel({"exec", "a", "--", "/bin/sh", "-c",
                           "echo written > /marker && rm /gone.txt && rm -r /data && mkdir /data && echo new > /data/new.txt"});
  ASSERT_EQ(changed.status, 0) << changed.err;
  std::string file = tmp.path + "/a.tar";
  auto ck = d.vessel({"checkpoint", "--export", file, "a"});
  ASSERT_EQ(ck.status, 0) << ck.err << d.log();
  ASSERT_TRUE(std::filesystem::exists(file));
  int last = counts(d, "a").back();

  std::vector<std::string> create{"create", "--name", "b", "--rootfs", tmp.path + "/rootfs"};
  create.insert(create.end(), kCounter.begin(), kCounter.end());
  ASSERT_EQ(d.vessel(create).status, 0) << d.log();
  auto rs = d.vessel({"restore", "--import", file, "b"});
  ASSERT_EQ(rs.status, 0) << rs.err << d.log();
  EXPECT_EQ(state_of(d, "b"), "running");
  ASSERT_TRUE(eventually([&] { return counts(d, "b").size() >= 3; })) << d.vessel({"logs", "b"}).out;
  auto c = counts(d, "b");
  EXPECT_EQ(c.front(), last + 1) << "b goes on from a's next count";
  for (size_t i = 1; i < c.size(); ++i) ASSERT_EQ(c[i], c[i - 1] + 1);
  auto files = d.vessel({"exec", "b", "--", "/bin/sh", "-c", "cat /marker /data/new.txt; ls /data; test -e /gone.txt && echo gone-is-back; true"});
  ASSERT_EQ(files.status, 0) << files.err;
  EXPECT_EQ(files.out, "written\nnew\nnew.txt\n") << "b has a's changes: no old.txt under the new /data, no gone.txt";
  // Not a checkpoint: refused, and a keeps its own checkpoint, which still restores.
  std::ofstream(tmp.path + "/junk.tar") << "not a tar";
  auto bad = d.vessel({"restore", "--import", tmp.path + "/junk.tar", "a"});
  EXPECT_NE(bad.status, 0);
  EXPECT_EQ(state_of(d, "a"), "checkpointed");
  ASSERT_EQ(d.vessel({"restore", "a"}).status, 0) << d.log();
  EXPECT_EQ(state_of(d, "a"), "running");
  EXPECT_EQ(d.vessel({"rm", "-f", "a", "b"}).status, 0);
}

}  // namespace
}  // namespace vessel::test
