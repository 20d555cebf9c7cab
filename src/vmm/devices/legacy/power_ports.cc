#include "vmm/devices/legacy/power_ports.h"

#include <cstring>

#include "vmm/arch/x86_64/layout.h"

namespace vessel::vmm {

void AcpiPower::read(uint64_t, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());  // no wake status, sleep control reads as 0
}

void AcpiPower::write(uint64_t offset, std::span<const uint8_t> data) {
  uint8_t value = data[0];
  if (offset == 0) {
    constexpr uint8_t kSlpEn = 1 << 5;
    uint8_t slp_typ = (value >> 2) & 0x7;
    if ((value & kSlpEn) && slp_typ == 5) events_({VmEvent::Kind::Poweroff, 0, "ACPI S5 (power off)"});
  } else if (offset == 2 && value == x86::kAcpiResetValue) {
    events_({VmEvent::Kind::Reboot, 0, "ACPI reset register"});
  }
}

void DebugExit::read(uint64_t, std::span<uint8_t> data) { std::memset(data.data(), 0xff, data.size()); }

void DebugExit::write(uint64_t, std::span<const uint8_t> data) {
  events_({VmEvent::Kind::DebugExit, data[0], "debug exit port"});
}

}  // namespace vessel::vmm
