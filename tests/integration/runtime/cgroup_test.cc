// cgroups on the three layouts: this host's hybrid layout (v1 controllers + cgroup2 with hugetlb),
// pure v1 (cgroup2 unmounted) and pure v2 (a cgroup2 mount over /sys/fs/cgroup), the last two in
// a private mount namespace made by unshare(1) so the host is not touched.
#include <fmt/format.h>
#include <sys/sysmacros.h>

#include "bundle.h"

namespace vessel::runtime::test {

namespace {
bool hybrid_host() {
  return fs::exists("/sys/fs/cgroup/unified/cgroup.controllers") && fs::exists("/sys/fs/cgroup/pids");
}
}  // namespace

TEST_F(RuntimeTest, ConfigResourcesLandInV1Files) {
  config_["linux"]["cgroupsPath"] = "/vessel-test/" + id_;
  config_["linux"]["namespaces"] = json::array({{{"type", "mount"}}, {{"type", "pid"}}});
  config_.erase("hostname");
  config_["linux"]["resources"] = {
      {"memory", {{"limit", 64 << 20}, {"reservation", 32 << 20}, {"swap", 128 << 20}}},
      {"cpu", {{"shares", 256}, {"quota", 20000}, {"period", 100000}, {"cpus", "0"}}},
      {"pids", {{"limit", 64}}}};
  Output o = run_sh("cat /proc/self/cgroup | grep -c vessel-test;"
                    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares");
  ASSERT_EQ(o.status, 0) << o.err;
  std::istringstream in(o.out);
  int joined;
  std::string mem, pids, shares;
  in >> joined >> mem >> pids >> shares;
  EXPECT_GE(joined, 8) << o.out;  // every v1 hierarchy and the unified one
  EXPECT_EQ(mem, "67108864");
  EXPECT_EQ(pids, "64");
  EXPECT_EQ(shares, "256");
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/vessel-test/" + id_)) << "cgroup removed on delete";
  fs::remove("/sys/fs/cgroup/pids/vessel-test");
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified"})
    rmdir(fmt::format("/sys/fs/cgroup/{}/vessel-test", c).c_str());
}

TEST_F(RuntimeTest, HybridLayoutUsesTheControllerBoundToCgroup2) {
  if (!hybrid_host()) FAIL() << "this host is expected to have the hybrid cgroup layout";
  std::string controllers = slurp("/sys/fs/cgroup/unified/cgroup.controllers");
  ASSERT_NE(controllers.find("hugetlb"), std::string::npos) << controllers;
  config_["linux"]["resources"] = {{"hugepageLimits", {{{"pageSize", "2MB"}, {"limit", 4 << 20}}}}};
  set_args({"/bin/sleep", "1000"});
  write_config();
  ids_.push_back(id_);
  Output o = rt("run -d --bundle " + bundle_ + " " + id_);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(slurp("/sys/fs/cgroup/unified/" + id_ + "/hugetlb.2MB.max"), "4194304\n");
  int pid = json::parse(rt("state " + id_).out)["pid"].get<int>();
  EXPECT_NE(slurp(fmt::format("/proc/{}/cgroup", pid)).find("0::/" + id_), std::string::npos);
}

TEST_F(RuntimeTest, PureCgroupV1WhenCgroup2IsUnmounted) {
  config_["linux"]["namespaces"] = json::array({{{"type", "mount"}}, {{"type", "pid"}}});
  config_.erase("hostname");
  set_args({"/bin/sh", "-c", "cat /proc/self/cgroup"});
  write_config();
  ids_.push_back(id_);
  Output o = sh(fmt::format("unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; "
                            "{} --root {} run --bundle {} {}'", VESSEL_RUNTIME_BIN, root_, bundle_, id_));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("pids:/" + id_), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("0::/" + id_), std::string::npos) << o.out;
}

TEST_F(RuntimeTest, PureCgroupV2InAPrivateMount) {
  // In a private mount namespace: /sys/fs/cgroup becomes a plain cgroup2 mount.
  config_["linux"]["resources"] = json::object();
  set_args({"/bin/sleep", "1000"});
  write_config();
  ids_.push_back(id_);
  std::string script = fmt::format(
      "umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && "
      "R='{} --root {}'; $R run -d --bundle {} {} && "
      "cat /sys/fs/cgroup/{}/cgroup.procs | wc -l && "
      "$R exec {} grep ^0:: /proc/self/cgroup && "
      "$R pause {} && $R state {} | grep -o '\"status\": \"[a-z]*\"' && cat /sys/fs/cgroup/{}/cgroup.freeze && "
      "$R resume {} && $R delete -f {} && test ! -e /sys/fs/cgroup/{} && echo removed",
      VESSEL_RUNTIME_BIN, root_, bundle_, id_, id_, id_, id_, id_, id_, id_, id_, id_);
  Output o = sh("unshare -m --propagation private sh -c " + shell_quote(script));
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_EQ(o.out, "1\n0::/\n\"status\": \"paused\"\n1\nremoved\n");
}

TEST_F(RuntimeTest, CgroupV2RefusesAControllerItDoesNotHave) {
  // On this host pids is bound to v1, so a pure v2 view has no pids controller.
  config_["linux"]["resources"] = {{"pids", {{"limit", 10}}}};
  write_config();
  Output o = sh("unshare -m --propagation private sh -c " +
                shell_quote(fmt::format("umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && "
                                        "grep -qw pids /sys/fs/cgroup/cgroup.controllers && echo has-pids; "
                                        "{} --root {} run --bundle {} {}; echo rc=$?",
                                        VESSEL_RUNTIME_BIN, root_, bundle_, id_)));
  if (o.out.find("has-pids") != std::string::npos) {
    EXPECT_NE(o.out.find("rc=0"), std::string::npos) << o.err;
  } else {
    EXPECT_NE(o.out.find("rc=1"), std::string::npos) << o.out;
    EXPECT_NE(o.err.find("\"pids\" is not available"), std::string::npos) << o.err;
  }
  EXPECT_FALSE(state_dir_exists(id_));
}

}  // namespace vessel::runtime::test

namespace vessel::runtime::test {

// Device rules, enforced: a container with CAP_MKNOD makes a node for a loop device of the host
// (backed by a file holding a marker) and must not read it; /dev/null and /dev/zero still work.
// The rules are Docker's: deny all, mknod of any node, the usual character devices.
class DeviceRulesTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (HasFatalFailure()) return;
    std::ofstream(dir_ + "/disk.img") << std::string(4096, 'S').replace(0, 13, "vessel-secret");
    Output loop = sh("modprobe loop 2>/dev/null; losetup -f --show " + dir_ + "/disk.img");
    ASSERT_EQ(loop.status, 0) << "a loop device is needed: " << loop.err;
    loop_ = loop.out.substr(0, loop.out.find('\n'));
    struct stat st{};
    ASSERT_EQ(stat(loop_.c_str(), &st), 0) << loop_;
    major_ = major(st.st_rdev);
    minor_ = minor(st.st_rdev);
    json caps = {"CAP_MKNOD", "CAP_KILL", "CAP_AUDIT_WRITE"};
    config_["process"]["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
    json devices = json::array({{{"allow", false}, {"access", "rwm"}},
                                {{"allow", true}, {"type", "c"}, {"access", "m"}},
                                {{"allow", true}, {"type", "b"}, {"access", "m"}}});
    for (int minor : {3, 5, 7, 8, 9}) devices.push_back({{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", minor}, {"access", "rwm"}});
    config_["linux"]["resources"] = {{"devices", devices}};
    set_args({"/bin/sh", "-c",
              fmt::format("mknod /dev/hostdisk b {} {} && echo made; head -c 13 /dev/hostdisk 2>&1; echo; "
                          "echo null >/dev/null && head -c 4 /dev/zero | wc -c",
                          major_, minor_)});
    write_config();
    ids_.push_back(id_);
  }
  void TearDown() override {
    if (!loop_.empty()) sh("losetup -d " + loop_);
    RuntimeTest::TearDown();
  }
  void expect_denied(const Output& o) {
    ASSERT_EQ(o.status, 0) << o.out << o.err;
    EXPECT_EQ(o.out.find("vessel-secret"), std::string::npos) << "the host's device was read: " << o.out;
    EXPECT_NE(o.out.find("made\n"), std::string::npos) << "mknod is allowed (rule b *:* m): " << o.out << o.err;
    EXPECT_NE(o.out.find("/dev/hostdisk: Operation not permitted"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("\n4\n"), std::string::npos) << "/dev/null and /dev/zero still work: " << o.out;
  }
  std::string loop_;
  unsigned major_ = 0, minor_ = 0;
};

// Where the host has a v1 devices controller (this machine's hybrid layout, or pure v1): its files.
TEST_F(DeviceRulesTest, V1DevicesControllerDeniesTheHostDisk) {
  if (!fs::exists("/sys/fs/cgroup/devices/devices.list")) FAIL() << "this host has no cgroup v1 devices controller";
  expect_denied(rt("run --bundle " + bundle_ + " " + id_));
}

// cgroup v2: the rules become an eBPF program on the group. On a hybrid host a private mount of
// cgroup2 over /sys/fs/cgroup gives the runtime a pure-v2 view (the kernel runs the program of the
// process's cgroup2 group whatever the v1 controllers say); on a pure-v2 host it is the real thing.
TEST_F(DeviceRulesTest, CgroupV2EbpfProgramDeniesTheHostDisk) {
  Output o = sh("unshare -m --propagation private sh -c " +
                shell_quote(fmt::format("umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && "
                                        "test ! -e /sys/fs/cgroup/devices && {} --root {} run --bundle {} {}",
                                        VESSEL_RUNTIME_BIN, root_, bundle_, id_)));
  expect_denied(o);
}

// The same on the host as it is when that is pure cgroup v2 (run in scripts/kvm-host --cgroup v2).
TEST_F(DeviceRulesTest, PureCgroupV2HostDeniesTheHostDisk) {
  if (!fs::exists("/sys/fs/cgroup/cgroup.controllers"))
    FAIL() << "this host is not pure cgroup v2: run it in `scripts/kvm-host --cgroup v2` (ctest runtime_devices_pure_cgroup2)";
  expect_denied(rt("run --bundle " + bundle_ + " " + id_));
}

TEST_F(DeviceRulesTest, CgroupV2ProgramOfAThousandRulesLoadsAndAnUpdateReplacesIt) {
  json devices = config_["linux"]["resources"]["devices"];
  // The runtime adds 9 rules of its own: 999 in all.
  while (devices.size() < 990) devices.push_back({{"allow", false}, {"type", "c"}, {"major", 99}, {"minor", int(devices.size())}, {"access", "rw"}});
  config_["linux"]["resources"]["devices"] = devices;
  set_args({"/bin/sleep", "1000"});
  write_config();
  // After an update that allows the loop device, the container reads it: the old program is gone
  // (with BPF_F_ALLOW_MULTI every attached program must allow a request).
  std::string update = fmt::format(R"({{"devices": [{{"allow": true, "type": "b", "major": {}, "minor": {}, "access": "rwm"}}, {{"allow": true, "type": "c", "access": "rwm"}}]}})", major_, minor_);
  std::ofstream(dir_ + "/update.json") << update;
  std::string script = fmt::format(
      "umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && R='{} --root {}'; "
      "$R run -d --bundle {} {} || exit 1; "
      "$R exec {} sh -c 'mknod /dev/hostdisk b {} {}; head -c 13 /dev/hostdisk 2>&1; echo'; "
      "$R update --resources {} {} && $R exec {} head -c 13 /dev/hostdisk; echo; $R delete -f {}",
      VESSEL_RUNTIME_BIN, root_, bundle_, id_, id_, major_, minor_, dir_ + "/update.json", id_, id_, id_);
  Output o = sh("unshare -m --propagation private sh -c " + shell_quote(script));
  EXPECT_NE(o.out.find("/dev/hostdisk: Operation not permitted\n"), std::string::npos) << o.out << o.err;
  EXPECT_NE(o.out.find("\nvessel-secret\n"), std::string::npos) << "the update allowed it: " << o.out << o.err;
}

// The systemd driver where systemd is not the init (this machine; elsewhere a tmpfs over
// /run/systemd in a private mount namespace hides it): a clear refusal that leaves nothing.
TEST_F(RuntimeTest, SystemdCgroupIsRefusedClearlyWhereSystemdIsNotInit) {
  write_config();
  for (const char* flag : {"--systemd-cgroup", "--cgroup-manager systemd"}) {
    Output o = sh(fmt::format("unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd 2>/dev/null; exec \"$0\" \"$@\"' "
                              "{} --root {} {} run -d --bundle {} {}",
                              VESSEL_RUNTIME_BIN, root_, flag, bundle_, id_));
    EXPECT_EQ(o.status, 1) << flag;
    EXPECT_NE(o.err.find("systemd is not running on this host"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("use the cgroupfs driver: drop --systemd-cgroup"), std::string::npos) << o.err;
    EXPECT_FALSE(state_dir_exists(id_));
  }
}

TEST_F(RuntimeTest, SystemdCgroupsPathNeedsTheSystemdDriver) {
  config_["linux"]["cgroupsPath"] = "machine.slice:vessel:" + id_;
  Output o = run();
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("run with --systemd-cgroup"), std::string::npos) << o.err;
  EXPECT_FALSE(state_dir_exists(id_));
  config_["linux"]["cgroupsPath"] = "machine.slice:" + id_;
  o = run();
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("is not slice:prefix:name"), std::string::npos) << o.err;
}

}  // namespace vessel::runtime::test

namespace vessel::runtime::test {

// A killed container gets the CPU to die (runtime/cgroups/hurry_exit.h): its quota is lifted once
// its processes are sent SIGKILL, so one throttled to 1 ms a second does not wait for its period.
TEST_F(RuntimeTest, KillAllLiftsTheQuotaOfTheDying) {
  config_["linux"]["cgroupsPath"] = "/vessel-test/" + id_;
  config_["linux"]["namespaces"] = json::array({{{"type", "mount"}}, {{"type", "pid"}}});
  config_.erase("hostname");
  config_["linux"]["resources"] = {{"cpu", {{"quota", 1000}, {"period", 1000000}}}};
  set_args({"/bin/sh", "-c", "while :; do :; done"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  std::string dir = fs::exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") ? "/sys/fs/cgroup/cpu/vessel-test/" + id_
                                                                      : "/sys/fs/cgroup/vessel-test/" + id_;
  bool v1 = fs::exists(dir + "/cpu.cfs_quota_us");
  std::string quota_file = dir + (v1 ? "/cpu.cfs_quota_us" : "/cpu.max");
  EXPECT_EQ(slurp(quota_file), v1 ? "1000\n" : "1000 1000000\n");
  ASSERT_EQ(rt("kill --all " + id_ + " KILL").status, 0);
  EXPECT_EQ(slurp(quota_file), v1 ? "-1\n" : "max 1000000\n") << "the quota is lifted for the dying";
  for (int i = 0; i < 200 && status(id_) != "stopped"; ++i) usleep(10000);
  EXPECT_EQ(status(id_), "stopped");
  ASSERT_EQ(rt("delete " + id_).status, 0);
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified", ""})
    rmdir(fmt::format("/sys/fs/cgroup/{}/vessel-test", c).c_str());
}

}  // namespace vessel::runtime::test
