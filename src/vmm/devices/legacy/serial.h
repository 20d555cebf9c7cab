// A 16550A UART (8250 family) on COM1: the guest console. Output goes to a host fd (stdout),
// input comes from enqueue_input() (the VMM's stdin thread, or the API). The RX FIFO is bounded;
// interrupts (RX data, THR empty) are edges on an InterruptLine (irqfd on GSI 4).
//
// It also watches the console for "Kernel panic - not syncing" so that a panicking guest
// (panic=-1 reboots at once) is reported as a panic, not a reboot.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "vmm/bus/bus.h"
#include "vmm/snapshot/device_state.h"

namespace vessel::vmm {

class Serial : public BusDevice {
 public:
  Serial(std::shared_ptr<InterruptLine> irq, int out_fd);

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Queues bytes for the guest to read; drops what does not fit in the FIFO (returns the count
  // accepted).
  size_t enqueue_input(std::string_view bytes);
  // The panic line seen on the console, if any.
  std::optional<std::string> panic_message() const;
  uint64_t bytes_written() const;
  // Also hands every byte the guest writes to `tap` (the console socket); must not block.
  void set_output_tap(std::function<void(std::string_view)> tap);
  // Registers and pending input, for snapshots (taken while the vCPUs are parked).
  snapshot::SerialState save_state() const;
  void restore_state(const snapshot::SerialState& state);

  static constexpr size_t kRxFifoBytes = 4096;

 private:
  uint8_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint8_t value);
  void emit(uint8_t byte);
  void update_interrupt();  // raises the line when an enabled condition is pending

  std::shared_ptr<InterruptLine> irq_;
  int out_fd_;
  std::function<void(std::string_view)> tap_;
  mutable std::mutex mu_;
  std::deque<uint8_t> rx_;
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0x08, scr_ = 0, dll_ = 0x0c, dlm_ = 0, fcr_ = 0;
  bool thr_empty_pending_ = false;
  uint64_t written_ = 0;
  std::string line_;  // current console line (bounded), for panic detection
  std::optional<std::string> panic_;
};

}  // namespace vessel::vmm
