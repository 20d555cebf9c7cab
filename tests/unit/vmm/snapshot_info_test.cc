// vessel-vmm --snapshot-info's summary (src/vmm/snapshot/state_info.h), read from the first
// release's fixture and from a state built here.
#include <gtest/gtest.h>

#include <cstring>

#include "base/fd.h"
#include "vmm/snapshot/state_info.h"

namespace vessel::vmm::snapshot {
namespace {

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(SnapshotInfo, SummarisesTheFixturesMachineAndVcpus) {
  auto text = read_file(VESSEL_SNAPSHOT_FIXTURE);
  ASSERT_TRUE(text) << text.error().to_string();
  auto s = decode(as_bytes(*text));
  ASSERT_TRUE(s) << s.error().to_string();
  auto j = describe(*s);
  EXPECT_EQ(j["vcpu_count"], 2);
  EXPECT_EQ(j["mem_size_mib"], 128);
  ASSERT_EQ(j["vcpus"].size(), 2u);
  EXPECT_EQ(j["vcpus"][0]["rip"], fmt::format("{:#x}", s->vcpus[0].regs.rip));
  EXPECT_EQ(j["vcpus"][0]["mp_state"], "runnable");
  EXPECT_EQ(j["vcpus"][1]["id"], 1);
  EXPECT_TRUE(j["vcpus"][0]["msrs"].contains("tsc"));
  EXPECT_EQ(j["config"]["machine-config"]["vcpu_count"], 2);
  EXPECT_EQ(j["cmos_rtc"], false);
}

// The LAPIC's timer and its pending and in-service vectors, decoded from the raw register page.
TEST(SnapshotInfo, DecodesTheLapicTimerAndVectors) {
  MachineState s;
  s.vcpu_count = 1;
  s.config = "not json";
  VcpuSnapshot v;
  auto put = [&](size_t offset, uint32_t value) { std::memcpy(v.lapic.regs + offset, &value, sizeof value); };
  put(0x320, (2u << 17) | 0xec);  // LVT timer: TSC-deadline mode, vector 0xec, unmasked
  put(0x200 + 7 * 0x10, 1u << 12);  // IRR: vector 7*32+12 = 236
  put(0x100 + 1 * 0x10, 1u);        // ISR: vector 32
  v.mp_state.mp_state = KVM_MP_STATE_HALTED;
  v.msrs.push_back({0x6e0, 0, 0x1234});
  s.vcpus.push_back(v);
  auto j = describe(s);
  const auto& cpu = j["vcpus"][0];
  EXPECT_EQ(cpu["mp_state"], "halted");
  EXPECT_EQ(cpu["lapic"]["timer"]["mode"], "tsc-deadline");
  EXPECT_EQ(cpu["lapic"]["timer"]["vector"], 0xec);
  EXPECT_EQ(cpu["lapic"]["timer"]["masked"], 0);
  EXPECT_EQ(cpu["lapic"]["irr"], json::Json::array({236}));
  EXPECT_EQ(cpu["lapic"]["isr"], json::Json::array({32}));
  EXPECT_EQ(cpu["msrs"]["tsc_deadline"], "0x1234");
  EXPECT_EQ(j["config"], "not json");  // a configuration that is not JSON is shown as text
}

}  // namespace
}  // namespace vessel::vmm::snapshot
