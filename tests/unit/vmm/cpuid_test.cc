#include "vmm/arch/x86_64/cpuid.h"

#include <gtest/gtest.h>

namespace vessel::vmm::x86 {
namespace {

kvm::CpuidEntries sample() {
  kvm::CpuidEntries c;
  kvm_cpuid_entry2 e{};
  e.function = 1;
  e.ecx = 0xffffffff;
  e.ebx = 0x00000800;
  c.entries.push_back(e);
  e = {};
  e.function = 7;
  e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  e.ebx = 0xffffffff;
  e.ecx = 0xffffffff;
  c.entries.push_back(e);
  e = {};
  e.function = 0xd;
  e.eax = 7;
  c.entries.push_back(e);
  for (uint32_t i = 0; i < 2; ++i) {
    e = {};
    e.function = 0xb;
    e.index = i;
    e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    c.entries.push_back(e);
  }
  e = {};
  e.function = 0x40000001;  // KVM paravirt features: everything offered
  e.eax = 0xffffffff;
  c.entries.push_back(e);
  return c;
}

TEST(Cpuid, ApicIdAndCountPerVcpu) {
  auto c = vcpu_cpuid(sample(), {5, 8, false});
  auto* l1 = c.find(1);
  ASSERT_NE(l1, nullptr);
  EXPECT_EQ(l1->ebx >> 24, 5u);
  EXPECT_EQ((l1->ebx >> 16) & 0xff, 8u);
  EXPECT_TRUE(l1->ecx & (1u << 31));
  EXPECT_EQ(c.find(0xb, 0)->edx, 5u);
  EXPECT_EQ(c.find(0xb, 1)->ebx, 8u);
  EXPECT_EQ(c.find(0xb, 1)->eax, 3u);  // 8 cores: 3 bits of APIC id
  EXPECT_NE(c.find(0xd), nullptr);      // untouched without masking
}

TEST(Cpuid, EmulationMaskHidesXsaveCx16AvxRdrandAndLeafD) {
  auto c = vcpu_cpuid(sample(), {0, 1, true});
  auto* l1 = c.find(1);
  for (int bit : {13, 26, 27, 28, 30}) EXPECT_FALSE(l1->ecx & (1u << bit)) << bit;
  EXPECT_TRUE(l1->ecx & (1u << 31));
  auto* l7 = c.find(7, 0);
  EXPECT_FALSE(l7->ebx & (1u << 5));  // AVX2
  EXPECT_EQ(l7->ecx, 0u);
  EXPECT_EQ(c.find(0xd), nullptr);
}

TEST(Cpuid, EmulationMaskHidesTscDeadlineAndHypercallParavirtFeatures) {
  auto c = vcpu_cpuid(sample(), {0, 2, true});
  EXPECT_FALSE(c.find(1)->ecx & (1u << 24));  // TSC-deadline timer
  for (int bit : {0, 1, 9, 19, 20, 25}) EXPECT_FALSE(c.find(1)->ecx & (1u << bit)) << bit;  // SSE3..SSE4.2, AES
  uint32_t pv = c.find(0x40000001)->eax;
  for (int bit : {7, 11, 13}) EXPECT_FALSE(pv & (1u << bit)) << bit;  // PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD
  EXPECT_TRUE(pv & (1u << 3));  // the clock source stays (kvm-clock, KVM_FEATURE_CLOCKSOURCE2)
  auto plain = vcpu_cpuid(sample(), {0, 2, false});
  EXPECT_TRUE(plain.find(1)->ecx & (1u << 24));
  EXPECT_EQ(plain.find(0x40000001)->eax, 0xffffffffu);
}

}  // namespace
}  // namespace vessel::vmm::x86
