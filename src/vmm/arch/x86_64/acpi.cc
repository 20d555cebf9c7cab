#include "vmm/arch/x86_64/acpi.h"

#include <cstring>
#include <string_view>

#include "vmm/arch/x86_64/layout.h"

namespace vessel::vmm::x86 {
namespace {

using Bytes = std::vector<uint8_t>;

void put8(Bytes& b, uint8_t v) { b.push_back(v); }
void put16(Bytes& b, uint16_t v) {
  for (int i = 0; i < 2; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(Bytes& b, std::string_view s) { b.insert(b.end(), s.begin(), s.end()); }
void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

// Standard 36-byte SDT header; length and checksum are fixed up by finish_table().
Bytes table_header(std::string_view sig, uint8_t revision) {
  Bytes b;
  put_str(b, sig);
  put32(b, 0);
  put8(b, revision);
  put8(b, 0);
  put_str(b, "VESSEL");
  put_str(b, "VESSELVM");
  put32(b, 1);
  put_str(b, "VSSL");
  put32(b, 1);
  return b;
}

void finish_table(Bytes& b) {
  uint32_t len = static_cast<uint32_t>(b.size());
  std::memcpy(b.data() + 4, &len, 4);
  b[9] = 0;
  b[9] = acpi_checksum(b.data(), b.size());
}

// Generic Address Structure for a byte-wide I/O port.
void put_gas_io(Bytes& b, uint16_t port) {
  put8(b, 1);  // SystemIO
  put8(b, 8);  // bit width
  put8(b, 0);  // bit offset
  put8(b, 1);  // byte access
  put64(b, port);
}

// ---- AML
// PkgLength encoding (ACPI 6.5, 20.2.4): the length counts itself.
Bytes pkg_length(size_t body) {
  Bytes out;
  if (body + 1 < 0x40) {
    out.push_back(static_cast<uint8_t>(body + 1));
    return out;
  }
  for (int n = 2; n <= 4; ++n) {
    size_t total = body + n;
    if (total < (1ull << (4 + 8 * (n - 1)))) {
      out.push_back(static_cast<uint8_t>(((n - 1) << 6) | (total & 0xf)));
      for (int i = 1; i < n; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * (i - 1))));
      return out;
    }
  }
  return out;  // unreachable for tables this small
}

Bytes with_pkg(uint8_t op_prefix_len, const Bytes& op, const Bytes& body) {
  (void)op_prefix_len;
  Bytes out = op;
  append(out, pkg_length(body.size()));
  append(out, body);
  return out;
}

Bytes aml_integer(uint64_t v) {
  Bytes b;
  if (v == 0) {
    put8(b, 0x00);
  } else if (v == 1) {
    put8(b, 0x01);
  } else if (v <= 0xff) {
    put8(b, 0x0a);
    put8(b, static_cast<uint8_t>(v));
  } else if (v <= 0xffff) {
    put8(b, 0x0b);
    put16(b, static_cast<uint16_t>(v));
  } else if (v <= 0xffffffff) {
    put8(b, 0x0c);
    put32(b, static_cast<uint32_t>(v));
  } else {
    put8(b, 0x0e);
    put64(b, v);
  }
  return b;
}

Bytes aml_string(std::string_view s) {
  Bytes b{0x0d};
  put_str(b, s);
  put8(b, 0);
  return b;
}

Bytes aml_name(std::string_view name4, const Bytes& value) {
  Bytes b{0x08};
  put_str(b, name4);
  append(b, value);
  return b;
}

Bytes aml_buffer(const Bytes& data) {
  Bytes body = aml_integer(data.size());
  append(body, data);
  return with_pkg(1, {0x11}, body);
}

Bytes aml_device(std::string_view name4, const Bytes& contents) {
  Bytes body;
  put_str(body, name4);
  append(body, contents);
  return with_pkg(2, {0x5b, 0x82}, body);
}

Bytes aml_scope(std::string_view path, const Bytes& contents) {
  Bytes body;
  put_str(body, path);
  append(body, contents);
  return with_pkg(1, {0x10}, body);
}

Bytes aml_package(const std::vector<Bytes>& elements) {
  Bytes body{static_cast<uint8_t>(elements.size())};
  for (const auto& e : elements) append(body, e);
  return with_pkg(1, {0x12}, body);
}

// Resource template: list of descriptors + end tag.
Bytes resource_template(const Bytes& descriptors) {
  Bytes data = descriptors;
  put8(data, 0x79);  // end tag
  put8(data, 0x00);
  return aml_buffer(data);
}

Bytes res_io(uint16_t base, uint8_t len) {
  Bytes b{0x47, 0x01};
  put16(b, base);
  put16(b, base);
  put8(b, 1);
  put8(b, len);
  return b;
}

Bytes res_irq(uint8_t irq) {
  Bytes b{0x22};
  put16(b, static_cast<uint16_t>(1u << irq));
  return b;
}

Bytes res_memory32_fixed(uint32_t base, uint32_t len) {
  Bytes b{0x86, 0x09, 0x00, 0x01};  // read-write
  put32(b, base);
  put32(b, len);
  return b;
}

Bytes res_extended_irq(uint32_t gsi) {
  Bytes b{0x89, 0x06, 0x00, 0x03 /* consumer, edge, active high, exclusive */, 0x01};
  put32(b, gsi);
  return b;
}

std::string hex_name(char prefix, unsigned n) {
  return fmt::format("{}{:03X}", prefix, n & 0xfff);
}

}  // namespace

uint8_t acpi_checksum(const uint8_t* data, size_t len) {
  uint8_t sum = 0;
  for (size_t i = 0; i < len; ++i) sum = static_cast<uint8_t>(sum + data[i]);
  return static_cast<uint8_t>(-sum);
}

std::vector<uint8_t> build_dsdt(const AcpiConfig& config) {
  Bytes sb;
  Bytes com1;
  append(com1, aml_name("_HID", aml_string("PNP0501")));
  append(com1, aml_name("_UID", aml_integer(0)));
  Bytes com1_res = res_io(kPortCom1, 8);
  append(com1_res, res_irq(kCom1Irq));
  append(com1, aml_name("_CRS", resource_template(com1_res)));
  append(sb, aml_device("COM1", com1));
  // The i8042 with its keyboard (no mouse: no PNP0F13). On a hardware-reduced platform Linux has no
  // legacy IRQs of its own: IRQ 1 exists for the i8042 driver only through this device's _CRS.
  Bytes kbd;
  append(kbd, aml_name("_HID", aml_string("PNP0303")));
  append(kbd, aml_name("_UID", aml_integer(0)));
  Bytes kbd_res = res_io(kPortI8042Data, 1);
  append(kbd_res, res_io(kPortI8042Command, 1));
  append(kbd_res, res_irq(kKeyboardIrq));
  append(kbd, aml_name("_CRS", resource_template(kbd_res)));
  append(sb, aml_device("KBD0", kbd));
  unsigned n = 0;
  for (const auto& dev : config.virtio_mmio) {
    Bytes d;
    append(d, aml_name("_HID", aml_string("LNRO0005")));
    append(d, aml_name("_UID", aml_integer(n)));
    append(d, aml_name("_CCA", aml_integer(1)));  // cache-coherent DMA
    Bytes res = res_memory32_fixed(static_cast<uint32_t>(dev.base), static_cast<uint32_t>(dev.size));
    append(res, res_extended_irq(dev.gsi));
    append(d, aml_name("_CRS", resource_template(res)));
    append(sb, aml_device(hex_name('V', n), d));
    ++n;
  }
  Bytes dsdt = table_header("DSDT", 2);
  append(dsdt, aml_scope("\\_SB_", sb));
  // \_S5: SLP_TYPa = 5 for power off through the sleep control register.
  append(dsdt, aml_name("_S5_", aml_package({aml_integer(5), aml_integer(0), aml_integer(0), aml_integer(0)})));
  finish_table(dsdt);
  return dsdt;
}

namespace {

Bytes build_fadt(uint64_t dsdt_addr) {
  Bytes b = table_header("FACP", 6);
  b.resize(276, 0);
  auto set32 = [&](size_t off, uint32_t v) { std::memcpy(b.data() + off, &v, 4); };
  auto set64 = [&](size_t off, uint64_t v) { std::memcpy(b.data() + off, &v, 8); };
  auto set_gas = [&](size_t off, uint16_t port) {
    Bytes g;
    put_gas_io(g, port);
    std::memcpy(b.data() + off, g.data(), g.size());
  };
  set32(40, static_cast<uint32_t>(dsdt_addr));
  // IAPC_BOOT_ARCH: an 8042 is present (the KBD0 device in the DSDT). Without the flag Linux
  // treats the firmware as having no i8042 and, with no PNP match, would not probe the ports.
  constexpr uint16_t kBootArch8042 = 1u << 1;
  std::memcpy(b.data() + 109, &kBootArch8042, 2);
  constexpr uint32_t kResetRegSup = 1u << 10, kHwReducedAcpi = 1u << 20;
  set32(112, kResetRegSup | kHwReducedAcpi);
  set_gas(116, kPortAcpiReset);
  b[128] = kAcpiResetValue;
  b[131] = 5;  // FADT minor version (ACPI 6.5)
  set64(140, dsdt_addr);
  set_gas(244, kPortAcpiSleepControl);
  set_gas(256, kPortAcpiSleepStatus);
  std::memcpy(b.data() + 268, "VESSELVM", 8);  // hypervisor vendor identity
  finish_table(b);
  return b;
}

Bytes build_madt(uint32_t vcpus) {
  Bytes b = table_header("APIC", 5);
  put32(b, static_cast<uint32_t>(kLapicBase));
  put32(b, 1);  // PCAT_COMPAT: the in-kernel irqchip has the 8259 pair
  for (uint32_t i = 0; i < vcpus; ++i) {
    put8(b, 0);  // processor local APIC
    put8(b, 8);
    put8(b, static_cast<uint8_t>(i));  // ACPI processor uid
    put8(b, static_cast<uint8_t>(i));  // APIC id
    put32(b, 1);                        // enabled
  }
  put8(b, 1);  // IOAPIC
  put8(b, 12);
  put8(b, static_cast<uint8_t>(vcpus));  // IOAPIC id after the CPUs
  put8(b, 0);
  put32(b, static_cast<uint32_t>(kIoapicBase));
  put32(b, 0);  // GSI base
  finish_table(b);
  return b;
}

}  // namespace

Result<uint64_t> write_acpi_tables(const GuestMemory& memory, const AcpiConfig& config) {
  uint64_t rsdp_addr = kAcpiTables;
  uint64_t next = kAcpiTables + 64;
  auto place = [&](const Bytes& t) -> Result<uint64_t> {
    uint64_t at = next;
    if (at + t.size() > kAcpiTablesEnd) return fail(ENOSPC, "ACPI tables do not fit below 1 MiB");
    TRY(memory.write(at, t.data(), t.size()));
    next = (at + t.size() + 15) & ~15ull;
    return at;
  };
  uint64_t dsdt = TRY(place(build_dsdt(config)));
  uint64_t fadt = TRY(place(build_fadt(dsdt)));
  uint64_t madt = TRY(place(build_madt(config.vcpus)));
  Bytes xsdt = table_header("XSDT", 1);
  put64(xsdt, fadt);
  put64(xsdt, madt);
  finish_table(xsdt);
  uint64_t xsdt_addr = TRY(place(xsdt));

  Bytes rsdp;
  put_str(rsdp, "RSD PTR ");
  put8(rsdp, 0);  // checksum of the first 20 bytes
  put_str(rsdp, "VESSEL");
  put8(rsdp, 2);   // revision: ACPI 2.0+
  put32(rsdp, 0);  // no RSDT
  put32(rsdp, 36);
  put64(rsdp, xsdt_addr);
  put8(rsdp, 0);  // extended checksum
  put8(rsdp, 0);
  put8(rsdp, 0);
  put8(rsdp, 0);
  rsdp[8] = acpi_checksum(rsdp.data(), 20);
  rsdp[32] = acpi_checksum(rsdp.data(), 36);
  TRY(memory.write(rsdp_addr, rsdp.data(), rsdp.size()));
  return rsdp_addr;
}

}  // namespace vessel::vmm::x86
