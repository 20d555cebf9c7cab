// vessel-runtime checkpoint / restore with CRIU, driven as podman drives runc: a shell counting in
// a shell variable is dumped (its process is gone, the container deleted), restored from the
// bundle with --detach, and goes on from the next count. Needs a kernel Debian's criu 3.17 works
// on (the nested KVM host's): label criu.
#include <signal.h>

#include <regex>
#include <thread>

#include <fmt/format.h>

#include "bundle.h"

namespace vessel::runtime::test {
namespace {

std::vector<int> counts(const std::string& file) {
  std::vector<int> out;
  std::string text = slurp(file);
  std::regex line("n=([0-9]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it)
    out.push_back(std::stoi((*it)[1]));
  return out;
}

bool wait_for(const std::function<bool()>& pred) {
  for (int i = 0; i < 300; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class Checkpoint : public RuntimeTest {};

TEST_F(Checkpoint, CounterGoesOnFromTheNextCount) {
  set_args({"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo n=$i; sleep 0.1; done"});
  // A bind mount from the host and the masked files: both external to CRIU.
  config_["mounts"].push_back({{"destination", "/etc/motd"}, {"type", "bind"}, {"source", bundle_ + "/config.json"},
                               {"options", {"rbind", "ro"}}});
  fs::create_directories(rootfs_ + "/etc");
  std::ofstream(rootfs_ + "/etc/motd") << "";
  write_config();
  ids_.push_back(id_);
  std::string out = dir_ + "/out.log", img = dir_ + "/img";
  // Our stdout is a file and stdin /dev/null: both host files CRIU must treat as external.
  Output run = rt("run -d --bundle " + bundle_ + " " + id_ + " >>" + out + " 2>&1");
  ASSERT_EQ(run.status, 0) << run.err;
  ASSERT_TRUE(wait_for([&] { return counts(out).size() >= 5; })) << slurp(out);
  int pid = json::parse(rt("state " + id_).out).value("pid", 0);
  ASSERT_GT(pid, 0);

  Output ck = rt("checkpoint --image-path " + img + " " + id_);
  ASSERT_EQ(ck.status, 0) << ck.err << slurp(img + "/dump.log").substr(0, 4000);
  EXPECT_TRUE(fs::exists(img + "/vessel-checkpoint.json"));
  EXPECT_NE(kill(pid, 0), 0) << "the dumped process is gone";
  EXPECT_FALSE(state_dir_exists(id_)) << "checkpoint deletes the container, as runc's does";
  size_t before = counts(out).size();

  Output rs = rt("restore -d --image-path " + img + " --work-path " + dir_ + "/work --pid-file " + dir_ +
                 "/pid --bundle " + bundle_ + " " + id_ + " >>" + out + " 2>&1");
  ASSERT_EQ(rs.status, 0) << rs.err << slurp(out) << slurp(dir_ + "/work/restore.log").substr(0, 4000);
  EXPECT_EQ(status(id_), "running");
  int restored = std::atoi(slurp(dir_ + "/pid").c_str());
  EXPECT_EQ(restored, json::parse(rt("state " + id_).out).value("pid", 0));
  ASSERT_TRUE(wait_for([&] { return counts(out).size() >= before + 5; })) << slurp(out);
  auto c = counts(out);
  EXPECT_EQ(c.front(), 1);
  for (size_t i = 1; i < c.size(); ++i) ASSERT_EQ(c[i], c[i - 1] + 1) << slurp(out);

  // The restored container is an ordinary one: exec, kill, delete.
  Output exec = rt("exec " + id_ + " /bin/echo inside");
  EXPECT_EQ(exec.out, "inside\n") << exec.err;
  EXPECT_EQ(rt("kill " + id_ + " KILL").status, 0);
  EXPECT_TRUE(wait_for([&] { return status(id_) == "stopped"; }));
  EXPECT_EQ(rt("delete " + id_).status, 0);
}

TEST_F(Checkpoint, LeaveRunningKeepsTheContainer) {
  set_args({"/bin/sh", "-c", "while :; do sleep 0.1; done"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  Output ck = rt("checkpoint --leave-running --image-path " + dir_ + "/img " + id_);
  ASSERT_EQ(ck.status, 0) << ck.err;
  EXPECT_EQ(status(id_), "running");
  // Restoring over a container that still exists is refused, and it keeps running.
  Output rs = rt("restore -d --image-path " + dir_ + "/img --bundle " + bundle_ + " " + id_);
  EXPECT_NE(rs.status, 0);
  EXPECT_EQ(status(id_), "running");
}

// containerd's order: pause, checkpoint --leave-running, resume. CRIU seizes the frozen tasks
// through the freezer and leaves the container paused.
TEST_F(Checkpoint, PausedContainerIsDumpedAndStaysPaused) {
  set_args({"/bin/sh", "-c", "while :; do sleep 0.1; done"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  ASSERT_EQ(rt("pause " + id_).status, 0);
  Output ck = rt("checkpoint --leave-running --image-path " + dir_ + "/img " + id_);
  ASSERT_EQ(ck.status, 0) << ck.err << slurp(dir_ + "/img/dump.log").substr(0, 4000);
  EXPECT_TRUE(fs::exists(dir_ + "/img/inventory.img"));
  EXPECT_EQ(status(id_), "paused");
  EXPECT_EQ(rt("resume " + id_).status, 0);
  EXPECT_EQ(status(id_), "running");
  Output exec = rt("exec " + id_ + " /bin/echo resumed");
  EXPECT_EQ(exec.out, "resumed\n") << exec.err;
}

TEST_F(Checkpoint, BadInput) {
  Output none = rt("checkpoint --image-path " + dir_ + "/img nosuch");
  EXPECT_NE(none.status, 0);
  EXPECT_NE(rt("checkpoint --pre-dump x").err.find("not supported"), std::string::npos);
  // An image directory that is not ours is refused before anything is created.
  fs::create_directories(dir_ + "/empty");
  write_config();
  Output rs = rt("restore -d --image-path " + dir_ + "/empty --bundle " + bundle_ + " " + id_);
  EXPECT_NE(rs.status, 0);
  EXPECT_NE(rs.err.find("not a checkpoint"), std::string::npos) << rs.err;
  EXPECT_FALSE(state_dir_exists(id_));
}

}  // namespace
}  // namespace vessel::runtime::test
