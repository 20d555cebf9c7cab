// The PS/2 controller (i8042) of a VM: the status/command port (0x64) and data port (0x60),
// enough for Linux to probe it; the reset line (command 0xFE, or the output port's bit 0), which
// Linux uses for `reboot` with reboot=k; and a keyboard that answers the commands atkbd sends
// and can type Ctrl+Alt+Del (the API's SendCtrlAltDel, SIGTERM), raising IRQ 1. No mouse.
//
// Keys are scan-code set 2 (what Firecracker sends, and what an untranslated controller hands
// Linux's atkbd); when the guest sets the command byte's XLATE bit the controller translates to
// set 1, as real hardware does.
#pragma once

#include <deque>
#include <memory>
#include <mutex>

#include "vmm/bus/bus.h"
#include "vmm/snapshot/device_state.h"
#include "vmm/vm_event.h"

namespace vessel::vmm {

class I8042 : public BusDevice {
 public:
  // `keyboard_irq` is IRQ 1 (an irqfd); without it keys can only be polled.
  explicit I8042(EventSink events, std::shared_ptr<InterruptLine> keyboard_irq = nullptr)
      : events_(std::move(events)), irq_(std::move(keyboard_irq)) {}
  // Inserted at port 0x60 with length 5 (0x60..0x64); offsets 0 and 4 are used.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Queues the make codes of Ctrl, Alt and Delete and raises IRQ 1 (if the guest enabled it).
  // Fails when the guest does not drain its keyboard buffer (16 bytes).
  Result<void> send_ctrl_alt_del();
  // Back to the power-on state (VM restart).
  void reset();
  // For snapshots (taken while the vCPUs are parked).
  snapshot::I8042State save_state();
  void restore_state(const snapshot::I8042State& state);

  static constexpr size_t kBufferSize = 16;

 private:
  // mu_ held; returns true when IRQ 1 should be raised.
  bool push_key_byte(uint8_t set2_code);
  bool push_reply(uint8_t byte);
  void keyboard_command(uint8_t value, bool& irq);
  void raise_irq();

  EventSink events_;
  std::shared_ptr<InterruptLine> irq_;
  std::mutex mu_;
  uint8_t command_byte_ = 0x00;  // interrupts off, no translation
  uint8_t pending_command_ = 0;  // controller command waiting for its data byte
  uint8_t pending_key_command_ = 0;  // keyboard command waiting for its parameter
  std::deque<uint8_t> out_;  // output buffer: the head is what port 0x60 reads
};

}  // namespace vessel::vmm
