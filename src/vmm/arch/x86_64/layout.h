// Guest-physical layout of a vessel x86-64 VM (docs/vmm/boot.md). Everything the VMM writes
// before boot lives below 1 MiB, the kernel is loaded at 1 MiB, devices sit in the 32-bit hole.
#pragma once

#include <cstdint>

namespace vessel::vmm::x86 {

inline constexpr uint64_t kBootGdt = 0x500;          // 4 descriptors, see boot_state.cc
inline constexpr uint64_t kPvhStartInfo = 0x6000;    // hvm_start_info
inline constexpr uint64_t kPvhMemmap = 0x6100;       // hvm_memmap_table_entry[]
inline constexpr uint64_t kZeroPage = 0x7000;        // Linux boot_params
inline constexpr uint64_t kBootStack = 0x8ff0;
inline constexpr uint64_t kPml4 = 0x9000;            // identity map of 4 GiB, 2 MiB pages
inline constexpr uint64_t kPdpt = 0xA000;
inline constexpr uint64_t kPd = 0xB000;              // 4 pages: 0xB000..0xEFFF
inline constexpr uint64_t kCmdline = 0x20000;
inline constexpr uint64_t kCmdlineMax = 0x10000;
inline constexpr uint64_t kEbdaStart = 0x9FC00;      // reserved from here to 1 MiB
inline constexpr uint64_t kAcpiTables = 0xE0000;     // RSDP here (legacy scan range), tables after
inline constexpr uint64_t kAcpiTablesEnd = 0x100000;
inline constexpr uint64_t kHighMemory = 0x100000;    // kernels load at 1 MiB

inline constexpr uint64_t kIoapicBase = 0xFEC00000;
inline constexpr uint64_t kLapicBase = 0xFEE00000;

// Port I/O map.
inline constexpr uint16_t kPortCom1 = 0x3f8;
inline constexpr uint32_t kCom1Irq = 4;
inline constexpr uint16_t kPortI8042Data = 0x60;
inline constexpr uint16_t kPortI8042Command = 0x64;
inline constexpr uint16_t kPortCmos = 0x70;  // index; 0x71 data
inline constexpr uint32_t kKeyboardIrq = 1;
inline constexpr uint16_t kPortDebugExit = 0xf4;       // write a byte: exit with that code
inline constexpr uint16_t kPortIb700Stop = 0x441;    // IB700 watchdog: 0x441 stops, 0x443 starts
inline constexpr uint16_t kPortAcpiSleepControl = 0x600;
inline constexpr uint16_t kPortAcpiSleepStatus = 0x601;
inline constexpr uint16_t kPortAcpiReset = 0x602;
inline constexpr uint8_t kAcpiResetValue = 0x1;

// Virtio-mmio windows (contract with src/vmm/devices/virtio).
inline constexpr uint64_t kVirtioMmioBase = 0xD0000000;
inline constexpr uint64_t kVirtioMmioWindow = 0x1000;
inline constexpr uint32_t kVirtioFirstGsi = 5;

inline constexpr uint32_t kMaxVcpus = 32;

}  // namespace vessel::vmm::x86
