// vesseld's side of the VM jail without root or /dev/kvm: the uid of each VM, the jailer's
// command line (mounts at host paths, read-only where read-only, the cgroup), and the exit
// status read from the jailer's.
#include "daemon/instances/vm_jail.h"
#include "temp_dir.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>

namespace vessel::daemon {
namespace {

bool has_pair(const std::vector<std::string>& argv, const std::string& flag,
              const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag && argv[i + 1] == value) return true;
  return false;
}

TEST(VmJailPlan, EachRunningVmHasItsOwnUidKeptUntilReleased) {
  test::TempDir tmp{"vm-jail-unit"};
  JailConfig c{true, "/usr/bin/vessel-jailer", tmp.path + "/jail", 900000, 3};
  auto a = acquire_jail_id(c, "a");
  auto b = acquire_jail_id(c, "b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, 900000u);
  EXPECT_EQ(*b, 900001u);
  EXPECT_EQ(*acquire_jail_id(c, "a"), 900000u)
      << "an instance keeps the uid it holds (vesseld restarts)";
  release_jail_id(c, "a");
  EXPECT_EQ(*acquire_jail_id(c, "c"), 900000u) << "the lowest free one";
  EXPECT_EQ(*acquire_jail_id(c, "d"), 900002u);
  auto full = acquire_jail_id(c, "e");
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().hint().find("--jailer-uid-count"), std::string::npos);
  release_jail_id(c, "nobody");  // nothing held: nothing happens
}

TEST(VmJailPlan, TheJailerGetsEveryFileAtItsHostPathReadOnlyWhereReadOnly) {
  JailConfig c{true, "/usr/bin/vessel-jailer", "/var/lib/vessel/jail", 900000, 10};
  InstanceSpec spec;
  spec.name = "vm1";
  InstanceContext ctx{spec,
                      "/var/lib/vessel/instances/vm1",
                      "/var/lib/vessel/instances/vm1/console.log",
                      "/vessel/vm1",
                      {}};
  BootSource boot;
  boot.kernel = "/k/vmlinuz";
  boot.initramfs = "/k/initrd";
  boot.disks = {{"/var/lib/vessel/instances/vm1/disks/image-0.qcow2",
                 false,
                 "qcow2",
                 0,
                 {"/var/lib/vessel/images/disks/base.raw"}},
                {"/data/ro.img", true, "raw", 0, {}},
                {"/data/ro.img", false, "raw", 0, {}}};
  CgroupSettings cg{1, {"memory.limit_in_bytes=67108864", "cpuacct.usage=0"}};
  auto argv = jailer_command(c, "/usr/bin/vessel-vmm", ctx, boot, 900003, cg,
                             {"--api-sock", "/vessel-run/vmm.sock"});
  ASSERT_TRUE(argv) << argv.error().to_string();
  EXPECT_EQ(argv->front(), "/usr/bin/vessel-jailer");
  EXPECT_TRUE(has_pair(*argv, "--id", "vm1"));
  EXPECT_TRUE(has_pair(*argv, "--uid", "900003"));
  EXPECT_TRUE(has_pair(*argv, "--gid", "900003"));
  EXPECT_TRUE(has_pair(*argv, "--chroot-base-dir", "/var/lib/vessel/jail"));
  EXPECT_TRUE(has_pair(*argv, "--parent-cgroup", "vessel"));
  EXPECT_TRUE(has_pair(*argv, "--cgroup-version", "1"));
  EXPECT_TRUE(has_pair(*argv, "--cgroup", "memory.limit_in_bytes=67108864"));
  EXPECT_TRUE(has_pair(*argv, "--mount", "/var/lib/vessel/instances/vm1/run:/vessel-run"));
  EXPECT_TRUE(has_pair(*argv, "--mount", "/k/vmlinuz:/k/vmlinuz:ro"));
  EXPECT_TRUE(has_pair(*argv, "--mount", "/k/initrd:/k/initrd:ro"));
  EXPECT_TRUE(has_pair(*argv, "--mount",
                       "/var/lib/vessel/instances/vm1/disks/image-0.qcow2:/var/lib/vessel/"
                       "instances/vm1/disks/image-0.qcow2"));
  EXPECT_TRUE(
      has_pair(*argv, "--mount",
               "/var/lib/vessel/images/disks/base.raw:/var/lib/vessel/images/disks/base.raw:ro"));
  // One file used read-only and read-write is mounted once, read-write.
  EXPECT_TRUE(has_pair(*argv, "--mount", "/data/ro.img:/data/ro.img"));
  EXPECT_EQ(std::count(argv->begin(), argv->end(), "/data/ro.img:/data/ro.img:ro"), 0);
  // The VMM's own arguments come after --.
  auto dashes = std::find(argv->begin(), argv->end(), "--");
  ASSERT_NE(dashes, argv->end());
  EXPECT_EQ(*(dashes + 1), "--api-sock");
  // A path the jailer cannot take is refused here, with the way out.
  boot.kernel = "/k/a:b";
  auto bad = jailer_command(c, "/usr/bin/vessel-vmm", ctx, boot, 900003, cg, {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().hint().find("--no-jailer"), std::string::npos);
}

TEST(VmJailPlan, TheVmsStatusComesFromTheJailers) {
  auto killed = exit_from_jailer_status(W_EXITCODE(128 + SIGKILL, 0));
  EXPECT_EQ(killed.code, 137);
  EXPECT_EQ(killed.reason, "killed");
  auto term = exit_from_jailer_status(W_EXITCODE(128 + SIGTERM, 0));
  EXPECT_EQ(term.reason, "signal");
  auto exited = exit_from_jailer_status(W_EXITCODE(3, 0));
  EXPECT_EQ(exited.code, 3);
  EXPECT_EQ(exited.reason, "exited");
  auto jailer_killed = exit_from_jailer_status(W_EXITCODE(0, SIGKILL));
  EXPECT_EQ(jailer_killed.code, 137);
  EXPECT_EQ(jailer_killed.reason, "killed");
}

}  // namespace
}  // namespace vessel::daemon
