#include "vmm/arch/x86_64/acpi.h"

#include <gtest/gtest.h>

#include <cstring>

#include "vmm/arch/x86_64/layout.h"

namespace vessel::vmm::x86 {
namespace {

uint8_t sum(const uint8_t* p, size_t n) {
  uint8_t s = 0;
  for (size_t i = 0; i < n; ++i) s = static_cast<uint8_t>(s + p[i]);
  return s;
}

struct Tables {
  GuestMemory mem = GuestMemory::create(16 << 20).value();
  uint64_t rsdp = 0;
  uint64_t table(const char* sig) {
    uint8_t r[36];
    EXPECT_TRUE(mem.read(rsdp, r, 36));
    uint64_t xsdt;
    std::memcpy(&xsdt, r + 24, 8);
    uint32_t len = mem.read_obj<uint32_t>(xsdt + 4).value();
    for (uint32_t off = 36; off < len; off += 8) {
      uint64_t t = mem.read_obj<uint64_t>(xsdt + off).value();
      char s[4];
      EXPECT_TRUE(mem.read(t, s, 4));
      if (std::memcmp(s, sig, 4) == 0) return t;
    }
    return 0;
  }
  std::vector<uint8_t> bytes(uint64_t addr) {
    uint32_t len = mem.read_obj<uint32_t>(addr + 4).value();
    std::vector<uint8_t> b(len);
    EXPECT_TRUE(mem.read(addr, b.data(), len));
    return b;
  }
};

TEST(Acpi, RsdpXsdtAndEveryTableHaveValidChecksums) {
  Tables t;
  AcpiConfig cfg{4, {{0xd0000000, 0x1000, 5}, {0xd0001000, 0x1000, 6}}};
  t.rsdp = write_acpi_tables(t.mem, cfg).value();
  EXPECT_EQ(t.rsdp, kAcpiTables);
  uint8_t r[36];
  ASSERT_TRUE(t.mem.read(t.rsdp, r, 36));
  EXPECT_EQ(std::memcmp(r, "RSD PTR ", 8), 0);
  EXPECT_EQ(sum(r, 20), 0);
  EXPECT_EQ(sum(r, 36), 0);
  for (const char* sig : {"FACP", "APIC"}) {
    uint64_t addr = t.table(sig);
    ASSERT_NE(addr, 0u) << sig;
    auto b = t.bytes(addr);
    EXPECT_EQ(sum(b.data(), b.size()), 0) << sig;
  }
  auto fadt = t.bytes(t.table("FACP"));
  uint64_t dsdt;
  std::memcpy(&dsdt, fadt.data() + 140, 8);
  auto d = t.bytes(dsdt);
  EXPECT_EQ(std::memcmp(d.data(), "DSDT", 4), 0);
  EXPECT_EQ(sum(d.data(), d.size()), 0);
}

TEST(Acpi, MadtListsEveryVcpuAndTheIoapic) {
  Tables t;
  t.rsdp = write_acpi_tables(t.mem, {7, {}}).value();
  auto m = t.bytes(t.table("APIC"));
  int lapics = 0, ioapics = 0;
  for (size_t off = 44; off + 2 <= m.size(); off += m[off + 1]) {
    ASSERT_GE(m[off + 1], 2);
    if (m[off] == 0) {
      EXPECT_EQ(m[off + 3], lapics);  // APIC id = vCPU index
      ++lapics;
    }
    if (m[off] == 1) ++ioapics;
  }
  EXPECT_EQ(lapics, 7);
  EXPECT_EQ(ioapics, 1);
}

TEST(Acpi, FadtIsHardwareReducedWithSleepAndResetPorts) {
  Tables t;
  t.rsdp = write_acpi_tables(t.mem, {1, {}}).value();
  auto f = t.bytes(t.table("FACP"));
  ASSERT_EQ(f.size(), 276u);
  uint32_t flags;
  std::memcpy(&flags, f.data() + 112, 4);
  EXPECT_TRUE(flags & (1u << 20));
  uint64_t sleep_port;
  std::memcpy(&sleep_port, f.data() + 244 + 4, 8);
  EXPECT_EQ(f[244], 1);  // SystemIO
  EXPECT_EQ(sleep_port, kPortAcpiSleepControl);
  EXPECT_EQ(f[128], kAcpiResetValue);
  EXPECT_EQ(f[109] & 0x02, 0x02);  // IAPC_BOOT_ARCH: 8042 present (Linux probes the keyboard)
}

TEST(Acpi, DsdtDescribesEachVirtioMmioDeviceWithWindowAndGsi) {
  AcpiConfig cfg{1, {{0xd0000000, 0x1000, 5}, {0xd0001000, 0x1000, 6}}};
  auto d = build_dsdt(cfg);
  std::string s(d.begin(), d.end());
  size_t count = 0;
  for (size_t pos = 0; (pos = s.find("LNRO0005", pos)) != std::string::npos; ++pos) ++count;
  EXPECT_EQ(count, 2u);
  EXPECT_NE(s.find("PNP0501"), std::string::npos);
  EXPECT_NE(s.find("_S5_"), std::string::npos);
  // The keyboard controller: IO 0x60 and 0x64 (one byte each) and IRQ 1, which Linux's i8042
  // driver needs from here (a hardware-reduced platform has no legacy IRQs otherwise).
  EXPECT_NE(s.find("PNP0303"), std::string::npos);
  const uint8_t kbd[] = {0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x47, 0x01,
                         0x64, 0x00, 0x64, 0x00, 0x01, 0x01, 0x22, 0x02, 0x00};
  EXPECT_NE(s.find(std::string(reinterpret_cast<const char*>(kbd), sizeof kbd)), std::string::npos);
  // Memory32Fixed(RW, 0xd0001000, 0x1000) then Extended Interrupt with GSI 6.
  const uint8_t mem32[] = {0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00,
                           0x89, 0x06, 0x00, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00};
  EXPECT_NE(s.find(std::string(reinterpret_cast<const char*>(mem32), sizeof mem32)), std::string::npos);
  EXPECT_EQ(acpi_checksum(d.data(), d.size()), 0);  // the table's own checksum byte makes it 0
}

TEST(Acpi, ManyDevicesUseMultiBytePackageLengthsAndStayConsistent) {
  AcpiConfig cfg{32, {}};
  for (uint32_t i = 0; i < 64; ++i) cfg.virtio_mmio.push_back({0xd0000000 + i * 0x1000ull, 0x1000, 5 + i});
  auto d = build_dsdt(cfg);
  uint32_t len;
  std::memcpy(&len, d.data() + 4, 4);
  EXPECT_EQ(len, d.size());
  // The \_SB scope's PkgLength must cover every device: find the ScopeOp right after the header.
  ASSERT_EQ(d[36], 0x10);
  uint8_t lead = d[37];
  int extra = lead >> 6;
  ASSERT_GE(extra, 1);
  uint32_t pkg = lead & 0xf;
  for (int i = 0; i < extra; ++i) pkg |= static_cast<uint32_t>(d[38 + i]) << (4 + 8 * i);
  // Scope ends where the _S5_ Name begins.
  std::string s(d.begin(), d.end());
  EXPECT_EQ(37 + pkg, s.find("\x08_S5_"));
}

}  // namespace
}  // namespace vessel::vmm::x86
