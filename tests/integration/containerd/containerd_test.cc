// containerd (Debian 12's 1.6) driving vessel-runtime through its runc shim (io.containerd.runc.v2,
// `ctr run --runc-binary`): each test starts its own containerd (root, state, socket and config in
// a temp dir, no CRI plugin, no systemd), imports a busybox image from a docker-archive made here,
// and runs containers. `vessel-runtime state` reading the shim's runtime root proves that
// vessel-runtime made them: it cannot read runc's state files.
#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "bundle.h"

namespace vessel::runtime::test {

class ContainerdTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (HasFatalFailure()) return;
    if (sh("command -v containerd && command -v ctr && command -v containerd-shim-runc-v2").status != 0)
      FAIL() << "containerd is not installed (scripts/packages.txt lists it: run scripts/setup.sh)";
    namespace_ = fmt::format("vessel-ctd-{}", getpid());
    socket_ = dir_ + "/containerd.sock";
    start_containerd();
    if (HasFatalFailure()) return;
    Output imp = ctr("images import " + make_docker_archive());
    ASSERT_EQ(imp.status, 0) << imp.err;
  }

  void TearDown() override {
    if (containerd_pid_ > 0) {
      for (const auto& id : containers_) {
        ctr("task kill -s KILL " + id);
        ctr("task rm -f " + id);
        ctr("containers rm " + id);
      }
      stop_containerd();
    }
    // ctr puts each container in the cgroup /NAMESPACE/ID (every v1 hierarchy and cgroup2).
    sh(fmt::format("for d in /sys/fs/cgroup/*/{0} /sys/fs/cgroup/{0}; do [ -d $d ] && rmdir $d; done", namespace_));
    RuntimeTest::TearDown();
  }

  // containerd's own config: everything under the temp dir; only the gRPC socket listens.
  void start_containerd() {
    std::ofstream(dir_ + "/containerd.toml") << fmt::format(
        "version = 2\nroot = \"{0}/ctd-root\"\nstate = \"{0}/ctd-state\"\n"
        "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
        "[grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"\"\n[debug]\n  address = \"\"\n"
        "[metrics]\n  address = \"\"\n",
        dir_, socket_);
    Output o = sh(fmt::format("containerd --config {0}/containerd.toml >{0}/containerd.log 2>&1 & echo $!", dir_));
    ASSERT_EQ(o.status, 0) << o.err;
    containerd_pid_ = std::stoi(o.out);
    for (int i = 0; i < 200; ++i) {
      if (ctr("version").status == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "containerd did not answer on " << socket_ << " within 10 s:\n" << slurp(dir_ + "/containerd.log");
  }

  void stop_containerd() {
    ::kill(containerd_pid_, SIGTERM);
    for (int i = 0; i < 200 && ::kill(containerd_pid_, 0) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (::kill(containerd_pid_, 0) == 0) ::kill(containerd_pid_, SIGKILL);
  }

  // A docker-archive (`docker save`'s layout) of one layer: the fixture's busybox rootfs.
  std::string make_docker_archive() {
    std::string img = dir_ + "/image", tar = dir_ + "/image.tar";
    Output o = sh(fmt::format(
        "mkdir -p {0} && tar -C {1} -cf {0}/layer.tar . && diff_id=$(sha256sum {0}/layer.tar | cut -c1-64) && "
        "printf '%s' '{{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{{\"Env\":[\"PATH=/bin\"],"
        "\"Cmd\":[\"/bin/sh\"]}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"sha256:'$diff_id'\"]}}}}' "
        ">{0}/config.json && "
        "echo '[{{\"Config\":\"config.json\",\"RepoTags\":[\"{3}\"],\"Layers\":[\"layer.tar\"]}}]' >{0}/manifest.json && "
        "tar -C {0} -cf {2} manifest.json config.json layer.tar",
        img, rootfs_, tar, kImage));
    EXPECT_EQ(o.status, 0) << o.err;
    return tar;
  }

  Output ctr(const std::string& args) { return sh(fmt::format("ctr -a {} -n {} {}", socket_, namespace_, args)); }

  // `ctr run` with vessel-runtime as the shim's runc, its state under the temp dir.
  Output ctr_run(const std::string& flags, const std::string& id, const std::string& command) {
    containers_.push_back(id);
    return ctr(fmt::format("run {} --runc-binary {} --runc-root {} --fifo-dir {}/fifo {} {} {}", flags,
                           VESSEL_RUNTIME_BIN, runc_root(), dir_, kImage, id, command));
  }

  // The runtime root the shim passes to vessel-runtime: --runc-root plus the namespace.
  std::string runc_root() const { return dir_ + "/runc"; }
  Output vessel_state(const std::string& id) {
    return sh(fmt::format("{} --root {}/{} state {}", VESSEL_RUNTIME_BIN, runc_root(), namespace_, id));
  }

  // The task's pid and status from `ctr task ls` ("ID PID STATUS" rows).
  std::pair<int, std::string> task(const std::string& id) {
    std::istringstream rows(ctr("task ls").out);
    std::string name, status;
    int pid = 0;
    std::string header;
    std::getline(rows, header);
    while (rows >> name >> pid >> status)
      if (name == id) return {pid, status};
    return {0, "absent"};
  }

  std::string wait_for_status(const std::string& id, const std::string& want) {
    std::string status;
    for (int i = 0; i < 100; ++i) {
      if ((status = task(id).second) == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return status;
  }

  static constexpr const char* kImage = "localhost/vessel-busybox:test";
  std::string namespace_, socket_;
  int containerd_pid_ = 0;
  std::vector<std::string> containers_;
};

TEST_F(ContainerdTest, RunReturnsTheOutputAndTheExitStatus) {
  Output r = ctr_run("--rm", "c-run", "sh -c 'echo hi; exit 3'");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(ctr("containers ls -q").out, "");
  Output missing = ctr_run("--rm", "c-missing", "/bin/no-such-binary");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.err.find("no-such-binary"), std::string::npos) << missing.err;
}

TEST_F(ContainerdTest, KillAndRemoveStopALongRunningTask) {
  // PID 1 of a pid namespace ignores SIGTERM unless it handles it: the trap makes ctr's default
  // signal end the task.
  Output d = ctr_run("-d", "c-long", "sh -c 'trap \"exit 0\" TERM; while true; do sleep 1; done'");
  ASSERT_EQ(d.status, 0) << d.err;
  auto [pid, status] = task("c-long");
  ASSERT_EQ(status, "RUNNING");
  // vessel-runtime's own state of the container the shim made (runc's state.json has no "pid"
  // and this fails on it): the same pid, running.
  Output st = vessel_state("c-long");
  ASSERT_EQ(st.status, 0) << st.err;
  json state = json::parse(st.out);
  EXPECT_EQ(state.value("status", ""), "running");
  EXPECT_EQ(state.value("pid", 0), pid);
  EXPECT_EQ(ctr("task pause c-long").status, 0);
  EXPECT_EQ(wait_for_status("c-long", "PAUSED"), "PAUSED");
  EXPECT_EQ(json::parse(vessel_state("c-long").out).value("status", ""), "paused");
  EXPECT_EQ(ctr("task resume c-long").status, 0);
  EXPECT_EQ(wait_for_status("c-long", "RUNNING"), "RUNNING");
  Output ps = ctr("task ps c-long");
  EXPECT_NE(ps.out.find(std::to_string(pid)), std::string::npos) << ps.out << ps.err;

  Output kill = ctr("task kill c-long");
  EXPECT_EQ(kill.status, 0) << kill.err;
  EXPECT_EQ(wait_for_status("c-long", "STOPPED"), "STOPPED");
  EXPECT_NE(::kill(pid, 0), 0) << "the container's init is still alive";
  Output rm = ctr("task rm c-long");
  EXPECT_EQ(rm.status, 0) << rm.err;
  EXPECT_EQ(ctr("containers rm c-long").status, 0);
  EXPECT_NE(vessel_state("c-long").status, 0) << "vessel-runtime still knows the deleted container";
  EXPECT_FALSE(fs::exists(fmt::format("{}/{}/c-long", runc_root(), namespace_)));
}

TEST_F(ContainerdTest, ExecRunsInTheTasksNamespacesAndReturnsItsStatus) {
  ASSERT_EQ(ctr_run("-d", "c-exec", "sleep 1000").status, 0);
  Output e = ctr("task exec --fifo-dir " + dir_ + "/fifo --exec-id e1 c-exec sh -c 'echo $((6*7)); cat /proc/1/cmdline; exit 4'");
  EXPECT_EQ(e.status, 4) << e.err;
  EXPECT_EQ(e.out, std::string("42\nsleep\0" "1000\0", 14)) << e.err;
  Output missing = ctr("task exec --fifo-dir " + dir_ + "/fifo --exec-id e2 c-exec /bin/no-such-binary");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.err.find("no-such-binary"), std::string::npos) << missing.err;
  Output user = ctr("task exec --fifo-dir " + dir_ + "/fifo --exec-id e3 --user 1000 --cwd /tmp c-exec sh -c 'id -u; pwd'");
  EXPECT_EQ(user.out, "1000\n/tmp\n") << user.err;
  // Still the same running task after the execs.
  EXPECT_EQ(task("c-exec").second, "RUNNING");
  EXPECT_EQ(ctr("task kill -s KILL c-exec").status, 0);
  EXPECT_EQ(wait_for_status("c-exec", "STOPPED"), "STOPPED");
}

}  // namespace vessel::runtime::test
