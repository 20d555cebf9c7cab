// ACPI tables for a hardware-reduced x86 machine without firmware: RSDP, XSDT, FADT (sleep
// control/status and reset registers on ports), MADT (one local APIC per vCPU and the IOAPIC),
// and a DSDT describing COM1 and each virtio-mmio device ("LNRO0005" with its register window and
// GSI) so that a stock kernel finds them without command-line help (docs/vmm/README.md, "Devices and discovery").
#pragma once

#include <cstdint>
#include <vector>

#include "base/error.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::x86 {

struct MmioDeviceDesc {
  uint64_t base;
  uint64_t size;
  uint32_t gsi;
};

struct AcpiConfig {
  uint32_t vcpus = 1;
  std::vector<MmioDeviceDesc> virtio_mmio;
};

// Builds all tables and writes them at kAcpiTables; returns the RSDP's guest address.
Result<uint64_t> write_acpi_tables(const GuestMemory& memory, const AcpiConfig& config);

// AML for the DSDT body (exposed for unit tests).
std::vector<uint8_t> build_dsdt(const AcpiConfig& config);
uint8_t acpi_checksum(const uint8_t* data, size_t len);

}  // namespace vessel::vmm::x86
