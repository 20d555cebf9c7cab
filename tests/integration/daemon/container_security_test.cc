// What a container that vesseld starts may do: Docker's defaults without CAP_MKNOD, the default
// seccomp profile, its own cgroup namespace, the pids limit, and the opt-ins that lift them.
// Everything is read from inside the container (/proc/self/status, error texts) or from the
// host's view of its cgroup.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

class ContainerSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  // Runs `script` in a new container with `flags`, waits for it and returns what it printed.
  CliResult run_sh(const std::vector<std::string>& flags, const std::string& script) {
    std::vector<std::string> args{"run", "--attach", "--name", "c" + std::to_string(++count), "--rootfs", rootfs};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--", "/bin/sh", "-c", script});
    return daemon.vessel(args);
  }
  // A field of /proc/self/status as the container sees it.
  static std::string field(const std::string& status, const std::string& name) {
    std::istringstream in(status);
    std::string line;
    while (std::getline(in, line))
      if (line.rfind(name + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", name.size() + 1));
    return "(missing " + name + ")";
  }
  // The host's directory of the container's group in the v1 hierarchy of `controller`, or in the
  // unified one on a pure cgroup v2 host.
  static std::string host_cgroup_dir(pid_t pid, const std::string& controller) {
    bool pure_v2 = std::ifstream("/sys/fs/cgroup/cgroup.controllers").good();
    std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
    std::string line;
    while (std::getline(in, line)) {
      auto a = line.find(':'), b = line.find(':', a + 1);
      std::string ctrls = "," + line.substr(a + 1, b - a - 1) + ",";
      if (!pure_v2 && ctrls.find("," + controller + ",") != std::string::npos)
        return "/sys/fs/cgroup/" + controller + line.substr(b + 1);
      if (pure_v2 && ctrls == ",,") return "/sys/fs/cgroup" + line.substr(b + 1);
    }
    return "";
  }
  static std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path};
  int count = 0;
};

TEST_F(ContainerSecurity, DefaultsAreDockersWithoutMknodWithSeccompAndOwnCgroupNamespace) {
  auto r = run_sh({}, "cat /proc/self/status; echo ---; cat /proc/self/cgroup");
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  std::string status = r.out.substr(0, r.out.find("---"));
  // Docker's 14 without CAP_MKNOD (bit 27): 0xa80425fb - 0x08000000.
  EXPECT_EQ(field(status, "CapEff"), "00000000a00425fb") << status;
  EXPECT_EQ(field(status, "CapBnd"), "00000000a00425fb");
  EXPECT_EQ(field(status, "CapInh"), "0000000000000000");
  EXPECT_EQ(field(status, "Seccomp"), "2") << "the default profile is a filter";
  EXPECT_EQ(field(status, "Seccomp_filters"), "1");
  EXPECT_EQ(field(status, "NoNewPrivs"), "0") << "as Docker: setuid programs in images work";
  // The cgroup namespace: every hierarchy's path is the root.
  std::istringstream cgroups(r.out.substr(r.out.find("---") + 4));
  std::string line;
  int lines = 0;
  while (std::getline(cgroups, line)) {
    if (line.empty()) continue;
    ++lines;
    EXPECT_EQ(line.substr(line.rfind(':')), ":/") << "the host's cgroup path shows: " << line;
  }
  EXPECT_GE(lines, 1);
  EXPECT_NE(r.out.find("0::/\n"), std::string::npos) << r.out;
}

TEST_F(ContainerSecurity, ForbiddenSyscallsGetEpermUntilUnconfinedOrPrivileged) {
  // unshare(CLONE_NEWUSER) needs no capability: only the seccomp profile refuses it.
  std::string script = "unshare -U true && echo unshared; grep -E '^(Seccomp|CapEff):' /proc/self/status";
  auto confined = run_sh({}, script);
  EXPECT_NE(confined.out.find("unshare: unshare(0x10000000): Operation not permitted"), std::string::npos)
      << confined.out << confined.err;
  EXPECT_EQ(confined.out.find("unshared"), std::string::npos);
  auto unconfined = run_sh({"--security-opt", "seccomp=unconfined"}, script);
  EXPECT_NE(unconfined.out.find("unshared\n"), std::string::npos) << unconfined.out;
  EXPECT_NE(unconfined.out.find("Seccomp:\t0\n"), std::string::npos) << unconfined.out;
  EXPECT_NE(unconfined.out.find("CapEff:\t00000000a00425fb\n"), std::string::npos) << "capabilities unchanged";
  auto privileged = run_sh({"--privileged"}, script + "; mkdir /m && mount -t tmpfs t /m && echo mounted");
  EXPECT_NE(privileged.out.find("unshared\n"), std::string::npos) << privileged.out;
  EXPECT_NE(privileged.out.find("Seccomp:\t0\n"), std::string::npos) << privileged.out;
  EXPECT_NE(privileged.out.find("mounted"), std::string::npos) << privileged.out;
  // CAP_SYS_ADMIN given alone also opens the calls the profile ties to it (Docker's rule).
  auto admin = run_sh({"--cap-add", "sys_admin"}, "mkdir /m && mount -t tmpfs t /m && echo mounted; grep ^Seccomp: /proc/self/status");
  EXPECT_NE(admin.out.find("mounted\nSeccomp:\t2\n"), std::string::npos) << admin.out << admin.err;
  // A bad option is refused before anything runs.
  auto bad = run_sh({"--security-opt", "apparmor=unconfined"}, "true");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("is not supported"), std::string::npos) << bad.err;
}

TEST_F(ContainerSecurity, MknodNeedsCapAddAndTheHostDiskCannotBeOpened) {
  std::ofstream(tmp.path + "/disk.img") << std::string(4096, 'S').replace(0, 13, "vessel-secret");
  auto loop = run({"/bin/sh", "-c", "modprobe loop 2>/dev/null; losetup -f --show " + tmp.path + "/disk.img"});
  ASSERT_EQ(loop.status, 0) << loop.err;
  std::string dev = loop.out.substr(0, loop.out.find('\n'));
  struct stat st{};
  ASSERT_EQ(stat(dev.c_str(), &st), 0);
  std::string script = fmt::format("mknod /dev/hostdisk b {} {} && echo made; head -c 13 /dev/hostdisk 2>&1; echo",
                                   major(st.st_rdev), minor(st.st_rdev));
  auto plain = run_sh({}, script);
  auto with_mknod = run_sh({"--cap-add", "MKNOD"}, script);
  run({"losetup", "-d", dev});
  EXPECT_NE(plain.out.find("mknod: /dev/hostdisk: Operation not permitted"), std::string::npos) << plain.out;
  EXPECT_NE(with_mknod.out.find("made\nhead: /dev/hostdisk: Operation not permitted"), std::string::npos)
      << "the node is made, the device cgroup refuses to open it: " << with_mknod.out << with_mknod.err;
  EXPECT_EQ(with_mknod.out.find("vessel-secret"), std::string::npos);
}

TEST_F(ContainerSecurity, ForkBombStopsAtThePidsLimit) {
  // The default limit, seen from the host.
  ASSERT_EQ(daemon.vessel({"run", "--name", "idle", "--rootfs", rootfs, "--", "/bin/sleep", "1000"}).status, 0);
  pid_t idle = daemon.vessel_json({"inspect", "idle"}).value("pid", 0);
  std::string dir = host_cgroup_dir(idle, "pids");
  ASSERT_FALSE(dir.empty());
  EXPECT_EQ(slurp(dir + "/pids.max"), "2048");
  // A fork bomb in a container limited to 64: it stays at 64 and the host stays fine.
  ASSERT_EQ(daemon.vessel({"run", "--name", "bomb", "--pids-limit", "64", "--rootfs", rootfs, "--", "/bin/sh", "-c",
                           "b() { b | b & }; b; sleep 1000"}).status, 0);
  pid_t bomb = daemon.vessel_json({"inspect", "bomb"}).value("pid", 0);
  std::string bomb_dir = host_cgroup_dir(bomb, "pids");
  ASSERT_FALSE(bomb_dir.empty());
  EXPECT_EQ(slurp(bomb_dir + "/pids.max"), "64");
  // The bomb hits the limit (forks refused: pids.events counts them) and never passes it.
  std::string events;
  for (int i = 0; i < 100 && (events.empty() || events == "max 0"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    events = slurp(bomb_dir + "/pids.events");
  }
  events = slurp(bomb_dir + "/pids.events");
  ASSERT_EQ(events.rfind("max ", 0), 0u) << events;
  EXPECT_GT(std::stol(events.substr(4)), 0) << events;
  for (int i = 0; i < 20; ++i) {
    EXPECT_LE(std::stol("0" + slurp(bomb_dir + "/pids.current")), 64);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(daemon.vessel({"rm", "-f", "bomb"}).status, 0);
  EXPECT_EQ(daemon.vessel({"rm", "-f", "idle"}).status, 0);
  // No limit on request (Docker's -1).
  auto unlimited = run_sh({"--pids-limit", "-1"}, "true");
  EXPECT_EQ(unlimited.status, 0) << unlimited.err;
}

}  // namespace
}  // namespace vessel::test
