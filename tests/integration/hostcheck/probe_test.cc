// The real probe on this machine, checked against facts read independently of the probe.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

#include "hostcheck/host_check.h"

namespace vessel::hostcheck {
namespace {

const Check* find(const Report& r, const std::string& name) {
  for (const auto& c : r.checks)
    if (c.name == name) return &c;
  return nullptr;
}

std::string slurp(const char* path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Read without the probe: /dev/kvm is the KVM device node (char 10:232), not something bound over
// it (the tests that fake a host without KVM bind /dev/null there).
bool kvm_device_node() {
  struct stat st;
  return stat("/dev/kvm", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 && minor(st.st_rdev) == 232;
}

// ... and it answers KVM_GET_API_VERSION with 12.
bool kvm_answers() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  close(fd);
  return version == KVM_API_VERSION;
}

TEST(HostCheckProbe, KvmFindingsMatchTheMachine) {
  Report r = probe();
  bool kvm = kvm_device_node() && kvm_answers();
  EXPECT_EQ(r.vms_ok, kvm) << r.to_table(false);
  const Check* dev = find(r, "/dev/kvm");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->ok, kvm_device_node()) << dev->value;
  struct stat st;
  if (stat("/sys/module/kvm_pvm", &st) == 0 && !r.cpu.vmx && !r.cpu.svm) {
    // kvm_pvm is the flavour only where it serves /dev/kvm; else it is "not bound" and none is claimed.
    EXPECT_EQ(r.kvm_flavour, r.vms_ok ? "kvm_pvm" : "none");
    if (r.vms_ok) EXPECT_EQ(r.kvm_pvm_state, "bound");
    else EXPECT_TRUE(r.kvm_pvm_state == "not bound" || r.kvm_pvm_state == "unverified") << r.kvm_pvm_state;
    const Check* flavour = find(r, "module flavour");
    ASSERT_NE(flavour, nullptr);
    if (r.vms_ok) {
      EXPECT_NE(flavour->note.find("ring-0"), std::string::npos);
      EXPECT_NE(flavour->note.find("native speed"), std::string::npos);
    }
  }
  if (!r.vms_ok) {
    EXPECT_EQ(r.kvm_flavour, "none");
    EXPECT_FALSE(r.vm_advice.empty()) << r.to_table(false);
  }
  if (kvm) {
    const Check* api = find(r, "API version");
    ASSERT_NE(api, nullptr);
    EXPECT_EQ(api->value, "12");
    for (const char* name : {"ioeventfd", "create a VM"}) {
      const Check* c = find(r, name);
      ASSERT_NE(c, nullptr) << name;
      EXPECT_TRUE(c->ok) << name << ": " << c->value;
    }
  }
}

TEST(HostCheckProbe, CpuMatchesProcCpuinfo) {
  Report r = probe();
  std::string cpuinfo = slurp("/proc/cpuinfo");
  EXPECT_NE(cpuinfo.find("vendor_id\t: " + r.cpu.vendor), std::string::npos);
  bool flag_hypervisor = cpuinfo.find(" hypervisor") != std::string::npos;
  EXPECT_EQ(r.cpu.hypervisor, flag_hypervisor);
}

TEST(HostCheckProbe, CgroupLayoutMatchesMounts) {
  Report r = probe();
  std::string mounts = slurp("/proc/self/mountinfo");
  bool v1 = mounts.find(" - cgroup ") != std::string::npos;
  bool v2 = mounts.find(" - cgroup2 ") != std::string::npos;
  const Check* cg = find(r, "cgroups");
  ASSERT_NE(cg, nullptr);
  std::string expected = v1 && v2 ? "hybrid" : v1 ? "v1" : v2 ? "v2" : "none";
  EXPECT_EQ(cg->value.substr(0, expected.size()), expected);
  EXPECT_TRUE(r.containers_ok) << r.to_table(false);
}

}  // namespace
}  // namespace vessel::hostcheck
