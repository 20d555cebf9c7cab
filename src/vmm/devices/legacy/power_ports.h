// Port devices that end a VM:
//  * AcpiPower: the hardware-reduced ACPI sleep control register (SLP_TYP 5 | SLP_EN means S5,
//    power off), its status register, and the FADT reset register (reboot). Addresses in
//    arch/x86_64/layout.h, described to the guest by the FADT.
//  * DebugExit: port 0xf4, a byte written there ends the VM with that exit code (test guests).
#pragma once

#include "vmm/bus/bus.h"
#include "vmm/vm_event.h"

namespace vessel::vmm {

class AcpiPower : public BusDevice {
 public:
  explicit AcpiPower(EventSink events) : events_(std::move(events)) {}
  // Inserted at kPortAcpiSleepControl with length 3: +0 sleep control, +1 status, +2 reset.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  EventSink events_;
};

class DebugExit : public BusDevice {
 public:
  explicit DebugExit(EventSink events) : events_(std::move(events)) {}
  void read(uint64_t, std::span<uint8_t> data) override;
  void write(uint64_t, std::span<const uint8_t> data) override;

 private:
  EventSink events_;
};

}  // namespace vessel::vmm
