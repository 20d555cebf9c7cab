// Regression tests for the runtime CVEs the issue names, and hostile configs that must fail
// cleanly (an error naming the field, no state directory, no cgroup, no process).
#include <fcntl.h>
#include <fmt/format.h>

#include "bundle.h"

namespace vessel::runtime::test {

// CVE-2019-5736: the container's init is a copy of the runtime; it must be a sealed memfd so a
// container process cannot open /proc/PID/exe for writing and overwrite the host binary.
TEST_F(RuntimeTest, Cve2019_5736_InitRunsFromASealedCopyOfTheRuntime) {
  set_args({"/bin/true"});
  ASSERT_EQ(create(id_).status, 0);
  int pid = json::parse(rt("state " + id_).out)["pid"].get<int>();
  char target[256] = {};
  ASSERT_GT(readlink(fmt::format("/proc/{}/exe", pid).c_str(), target, sizeof target - 1), 0);
  EXPECT_NE(std::string(target).find("memfd:vessel-runtime"), std::string::npos) << target;
  int fd = open(fmt::format("/proc/{}/exe", pid).c_str(), O_WRONLY);
  EXPECT_LT(fd, 0) << "the runtime image inside the container must not be writable";
  if (fd >= 0) close(fd);
  int rd = open(fmt::format("/proc/{}/exe", pid).c_str(), O_RDONLY);
  ASSERT_GE(rd, 0);
  EXPECT_EQ(fcntl(rd, F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_SEAL), F_SEAL_WRITE | F_SEAL_SEAL);
  close(rd);
}

// The defence fails closed, as runc's does: when the sealed copy cannot be made (here a file-size
// limit of 100 KiB stops the copy, with SIGXFSZ ignored so the write fails with EFBIG), no
// container process is started from the on-disk binary.
TEST_F(RuntimeTest, Cve2019_5736_NoContainerWithoutTheSealedCopy) {
  set_args({"/bin/sh", "-c", "echo started > /dev/null"});
  write_config();
  ids_.push_back(id_);
  Output o = sh(fmt::format("trap '' XFSZ; ulimit -f 100; {} --root {} run --bundle {} {}", VESSEL_RUNTIME_BIN, root_,
                            bundle_, id_));
  EXPECT_NE(o.status, 0) << o.out;
  EXPECT_NE(o.err.find("CVE-2019-5736"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("refusing to start a container process"), std::string::npos) << o.err;
  EXPECT_NE(rt("state " + id_).status, 0) << "no container may exist";
}

// `exec` re-executes the runtime from the same kind of sealed copy, and fails closed the same way:
// with the copy stopped by a file-size limit, the exec'd command never runs in the container.
TEST_F(RuntimeTest, Cve2019_5736_NoExecWithoutTheSealedCopy) {
  set_args({"/bin/sleep", "1000"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  Output o = sh(fmt::format("trap '' XFSZ; ulimit -f 100; {} --root {} exec {} /bin/sh -c 'echo ran > /dev/exec-ran'",
                            VESSEL_RUNTIME_BIN, root_, id_));
  EXPECT_NE(o.status, 0) << o.out;
  EXPECT_NE(o.err.find("CVE-2019-5736"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("refusing to start a container process"), std::string::npos) << o.err;
  EXPECT_NE(rt("exec " + id_ + " /bin/cat /dev/exec-ran").status, 0) << "the command ran without the sealed copy";
  // Without the limit the same command runs and leaves its file (so the check above can fail).
  EXPECT_EQ(rt("exec " + id_ + " /bin/sh -c 'echo ran > /dev/exec-ran'").status, 0);
  EXPECT_EQ(rt("exec " + id_ + " /bin/cat /dev/exec-ran").out, "ran\n");
}

// CVE-2024-21626: no host fd may leak into the container, and a cwd that resolves outside the
// rootfs (through a leaked /proc/self/fd/N) is refused.
TEST_F(RuntimeTest, Cve2024_21626_NoLeakedFdsAndCwdOutsideRootRefused) {
  set_args({"/bin/sh", "-c", "for f in /proc/self/fd/*; do readlink $f; done; true"});
  write_config();
  ids_.push_back(id_);
  // The caller has an open, inheritable host fd (7): it must not reach the container.
  Output o = sh(fmt::format("exec 7</etc/hostname; {} --root {} run --bundle {} {}", VESSEL_RUNTIME_BIN, root_, bundle_, id_));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out.find("/etc/hostname"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("/run"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("vessel"), std::string::npos) << o.out;
  for (int n = 3; n <= 9; ++n) {
    id_ = fmt::format("{}-cwd{}", id_, n);
    config_["process"]["cwd"] = fmt::format("/proc/self/fd/{}", n);
    set_args({"/bin/sh", "-c", "pwd; ls .. | head -3"});
    Output c = run();
    EXPECT_NE(c.status, 0) << "cwd /proc/self/fd/" << n << " was accepted: " << c.out;
    EXPECT_FALSE(state_dir_exists(id_));
  }
}

// Masked paths are resolved without following a final symlink: a rootfs that swaps one for a
// symlink to somewhere else does not get that target masked (or the container is refused).
TEST_F(RuntimeTest, SymlinkInRootfsCannotRedirectAMountOutside) {
  std::string rootfs = dir_ + "/rootfs";
  make_rootfs(rootfs);
  fs::create_directories(dir_ + "/outside");
  // /target -> /../../../outside: with RESOLVE_IN_ROOT it stays inside the rootfs.
  fs::create_symlink("../../../../../../outside", rootfs + "/target");
  config_["root"]["path"] = rootfs;
  config_["root"]["readonly"] = false;
  config_["mounts"].push_back({{"destination", "/target"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  Output o = run_sh("touch /target/made-inside; echo ok");
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(fs::is_empty(dir_ + "/outside")) << "a mount escaped the rootfs";
  EXPECT_TRUE(fs::exists(rootfs + "/outside")) << "the mount point was created inside the rootfs";
  // A masked path that is a symlink is refused instead of followed.
  fs::create_directories(rootfs + "/proc");
  config_["linux"]["maskedPaths"] = {"/etc/masked"};
  fs::create_symlink("/bin", rootfs + "/etc/masked");
  id_ += "m";
  Output m = run();
  EXPECT_NE(m.status, 0);
  EXPECT_NE(m.err.find("symlink"), std::string::npos) << m.err;
}

struct BadConfig {
  const char* name;
  std::function<void(json&)> edit;
  const char* message;
};

TEST_F(RuntimeTest, HostileConfigsFailCleanly) {
  const std::vector<BadConfig> cases = {
      {"overlapping uid mappings",
       [](json& c) {
         c["linux"]["namespaces"].push_back({{"type", "user"}});
         c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 10}},
                                      {{"containerID", 5}, {"hostID", 5000}, {"size", 10}}};
         c["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 10}}};
       },
       "overlaps"},
      {"cgroup path with ..", [](json& c) { c["linux"]["cgroupsPath"] = "/a/../../etc"; }, "cgroupsPath"},
      {"host sysctl", [](json& c) { c["linux"]["sysctl"] = {{"kernel.panic", "1"}}; }, "not namespaced"},
      {"net sysctl without netns",
       [](json& c) {
         c["linux"]["namespaces"] = json::array({{{"type", "mount"}}});
         c.erase("hostname");
         c["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
       },
       "network namespace"},
      {"namespace path that is not a namespace",
       [](json& c) { c["linux"]["namespaces"].push_back({{"type", "time"}, {"path", "/etc/hostname"}}); },
       "not a namespace"},
      {"unknown capability", [](json& c) { c["process"]["capabilities"]["bounding"] = {"CAP_WIZARDRY"}; }, "CAP_WIZARDRY"},
      {"wrong type", [](json& c) { c["process"]["args"] = "sh"; }, "process.args"},
      {"missing rootfs", [](json& c) { c["root"]["path"] = "/nonexistent-rootfs"; }, "root.path"},
      {"bad seccomp action",
       [](json& c) { c["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_EXPLODE"}}; }, "SCMP_ACT_EXPLODE"},
      {"relative cwd", [](json& c) { c["process"]["cwd"] = "tmp"; }, "process.cwd"},
      {"unsupported version", [](json& c) { c["ociVersion"] = "2.0.0"; }, "ociVersion"},
      {"missing executable", [](json& c) { c["process"]["args"] = {"/nope"}; }, "/nope"},
  };
  for (const auto& bad : cases) {
    json saved = config_;
    bad.edit(config_);
    std::string id = fmt::format("{}-bad{}", id_, &bad - cases.data());
    Output o = create(id);
    // A command that cannot run exits as a shell would (127 not found); other refusals 1.
    EXPECT_EQ(o.status, bad.message == std::string("/nope") ? 127 : 1) << bad.name;
    EXPECT_NE(o.err.find(bad.message), std::string::npos) << bad.name << ": " << o.err;
    EXPECT_FALSE(state_dir_exists(id)) << bad.name;
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/" + id)) << bad.name;
    config_ = saved;
  }
  // Huge and deeply nested documents.
  std::string deep(100, '[');
  std::ofstream(bundle_ + "/config.json") << "{\"ociVersion\":\"1.0.0\",\"x\":" << deep << std::string(100, ']') << "}";
  Output d = rt("create --bundle " + bundle_ + " " + id_ + "-deep");
  EXPECT_EQ(d.status, 1);
  EXPECT_NE(d.err.find("nested"), std::string::npos) << d.err;
  {
    std::ofstream big(bundle_ + "/config.json");
    big << "{\"ociVersion\":\"1.0.0\",\"annotations\":{\"a\":\"" << std::string(5 << 20, 'x') << "\"}}";
  }
  Output h = rt("create --bundle " + bundle_ + " " + id_ + "-huge");
  EXPECT_EQ(h.status, 1);
  EXPECT_NE(h.err.find("larger than"), std::string::npos) << h.err;
  EXPECT_FALSE(state_dir_exists(id_ + "-deep"));
  EXPECT_FALSE(state_dir_exists(id_ + "-huge"));
}

TEST_F(RuntimeTest, InvalidIdsAndDuplicatesAreRefused) {
  set_args({"/bin/sleep", "1000"});
  EXPECT_NE(create("../escape").status, 0);
  EXPECT_FALSE(fs::exists(dir_ + "/escape"));
  ASSERT_EQ(create(id_).status, 0);
  Output dup = create(id_);
  EXPECT_EQ(dup.status, 1);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos);
  EXPECT_EQ(status(id_), "created") << "the failed duplicate must not disturb the first";
}

}  // namespace vessel::runtime::test
