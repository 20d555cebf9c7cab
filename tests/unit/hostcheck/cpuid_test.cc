// CPUID decoding against recorded values. The PVM table was read on this project's machine
// with __cpuid_count; the Intel and AMD tables transcribe the leaves that matter
// (0, 1, 0x40000000, 0x8000000x) of bare-metal hosts with VT-x and AMD-V enabled.
#include "hostcheck/cpuid.h"

#include <gtest/gtest.h>

#include <map>
#include <utility>

namespace vessel::hostcheck {
namespace {

using Table = std::map<uint32_t, CpuidRegs>;

CpuidReader replay(Table t) {
  return [t = std::move(t)](uint32_t leaf, uint32_t) {
    auto it = t.find(leaf);
    return it == t.end() ? CpuidRegs{} : it->second;
  };
}

// An Intel Xeon (Ice Lake) host on bare metal with VT-x enabled.
Table intel_vtx_host() {
  return {
      {0x0, {0x0000001b, 0x756e6547, 0x6c65746e, 0x49656e69}},
      {0x1, {0x000606a6, 0x00400800, 0x7ffefbff, 0xbfebfbff}},
      {0x80000000, {0x80000008, 0, 0, 0}},
      {0x80000001, {0, 0, 0x00000121, 0x2c100800}},
      {0x80000002, {0x65746e49, 0x2952286c, 0x6f655820, 0x2952286e}},
      {0x80000003, {0x616c5020, 0x756e6974, 0x3338206d, 0x43203038}},
      {0x80000004, {0x40205550, 0x332e3220, 0x7a484730, 0x00000000}},
  };
}

// An AMD EPYC (Milan) host on bare metal with AMD-V enabled.
Table amd_v_host() {
  return {
      {0x0, {0x00000010, 0x68747541, 0x444d4163, 0x69746e65}},
      {0x1, {0x00a00f11, 0x00400800, 0x7ef8320b, 0x178bfbff}},
      {0x80000000, {0x80000023, 0x68747541, 0x444d4163, 0x69746e65}},
      {0x80000001, {0x00a00f11, 0x40000000, 0x75c237ff, 0x2fd3fbff}},
      {0x80000002, {0x20444d41, 0x43595045, 0x31373720, 0x34362033}},
      {0x80000003, {0x726f432d, 0x72502065, 0x7365636f, 0x20726f73}},
      {0x80000004, {0x20202020, 0x20202020, 0x20202020, 0x00202020}},
  };
}

// This project's machine: an AMD EPYC guest under KVM (kvm_pvm), no VMX/SVM exposed.
Table this_pvm_machine() {
  return {
      {0x0, {0x0000001c, 0x68747541, 0x444d4163, 0x69746e65}},
      {0x1, {0x00a10f11, 0x00020800, 0xfffa3203, 0x178bfbff}},
      {0x40000000, {0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d}},
      {0x80000000, {0x80000021, 0x68747541, 0x444d4163, 0x69746e65}},
      {0x80000001, {0x00a10f11, 0x40000000, 0x004003f3, 0x2fd3fbff}},
      {0x80000002, {0x20444d41, 0x43595045, 0x00000000, 0x00000000}},
      {0x80000003, {0, 0, 0, 0}},
      {0x80000004, {0, 0, 0, 0}},
  };
}

TEST(Cpuid, IntelVtxHost) {
  CpuInfo c = decode_cpu(replay(intel_vtx_host()));
  EXPECT_EQ(c.vendor, "GenuineIntel");
  EXPECT_TRUE(c.vmx);
  EXPECT_FALSE(c.svm);
  EXPECT_FALSE(c.hypervisor);
  EXPECT_EQ(c.hypervisor_vendor, "");
  EXPECT_EQ(c.model_name, "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz");
}

TEST(Cpuid, AmdVHost) {
  CpuInfo c = decode_cpu(replay(amd_v_host()));
  EXPECT_EQ(c.vendor, "AuthenticAMD");
  EXPECT_FALSE(c.vmx);
  EXPECT_TRUE(c.svm);
  EXPECT_FALSE(c.hypervisor);
  EXPECT_EQ(c.model_name, "AMD EPYC 7713 64-Core Processor");
}

TEST(Cpuid, ThisPvmMachineIsNestedWithoutHardwareVirtualization) {
  CpuInfo c = decode_cpu(replay(this_pvm_machine()));
  EXPECT_EQ(c.vendor, "AuthenticAMD");
  EXPECT_FALSE(c.vmx);
  EXPECT_FALSE(c.svm);
  EXPECT_TRUE(c.hypervisor);
  EXPECT_EQ(c.hypervisor_vendor, "KVMKVMKVM");
  EXPECT_EQ(c.model_name, "AMD EPYC");
}

TEST(Cpuid, HypervisorSignaturesOfTheMachinesVesselMeets) {
  Table bhyve = this_pvm_machine();
  bhyve[0x40000000] = {0x40000001, 0x76796862, 0x68622065, 0x20657679};  // "bhyve bhyve "
  CpuInfo c = decode_cpu(replay(bhyve));
  EXPECT_EQ(c.hypervisor_vendor, "bhyve bhyve");
  EXPECT_EQ(hypervisor_name(c.hypervisor_vendor), "bhyve");
  Table tcg = this_pvm_machine();
  tcg[0x40000000] = {0x40000001, 0x54474354, 0x43544743, 0x47435447};  // "TCGTCGTCGTCG"
  c = decode_cpu(replay(tcg));
  EXPECT_EQ(c.hypervisor_vendor, "TCGTCGTCGTCG");
  EXPECT_EQ(hypervisor_name(c.hypervisor_vendor), "QEMU TCG");
  EXPECT_EQ(hypervisor_name("KVMKVMKVM"), "KVM");
  EXPECT_EQ(hypervisor_name("SomethingNew"), "SomethingNew");
}

TEST(Cpuid, NativeMatchesProcCpuinfoVendor) {
  CpuInfo c = decode_cpu(native_cpuid);
  EXPECT_TRUE(c.vendor == "GenuineIntel" || c.vendor == "AuthenticAMD" || !c.vendor.empty());
  EXPECT_EQ(c.vendor.size(), 12u);
}

}  // namespace
}  // namespace vessel::hostcheck
