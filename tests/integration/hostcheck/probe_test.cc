// The real probe on this machine, checked against facts read independently of the probe.
#include <sys/stat.h>
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

TEST(HostCheckProbe, KvmFindingsMatchTheMachine) {
  Report r = probe();
  bool kvm = access("/dev/kvm", R_OK | W_OK) == 0;
  EXPECT_EQ(r.vms_ok, kvm) << r.to_table(false);
  const Check* dev = find(r, "/dev/kvm");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->ok, access("/dev/kvm", F_OK) == 0);
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
    EXPECT_TRUE(find(r, "ioeventfd")->ok);
    EXPECT_TRUE(find(r, "create a VM")->ok);
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
