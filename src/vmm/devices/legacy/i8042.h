// The bits of the PS/2 controller a VM needs: the status/command port (0x64) and data port
// (0x60), enough for Linux to probe it, and the reset line (command 0xFE), which Linux uses for
// `reboot` with reboot=k. No keyboard or mouse is attached.
#pragma once

#include <mutex>

#include "vmm/bus/bus.h"
#include "vmm/vm_event.h"

namespace vessel::vmm {

class I8042 : public BusDevice {
 public:
  explicit I8042(EventSink events) : events_(std::move(events)) {}
  // Inserted at port 0x60 with length 5 (0x60..0x64); offsets 0 and 4 are used.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  EventSink events_;
  std::mutex mu_;
  uint8_t command_byte_ = 0x00;  // interrupts off, keyboard/mouse disabled
  uint8_t pending_command_ = 0;
  int out_byte_ = -1;  // byte waiting in the output buffer, -1 when empty
};

}  // namespace vessel::vmm
