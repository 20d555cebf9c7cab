// The saved state of vessel-vmm's devices (docs/vmm/snapshot.md): plain values, with no behaviour,
// so that devices fill and take them and the snapshot codec (machine_state.h) encodes them without
// either knowing the other.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vessel::vmm::snapshot {

// COM1's 16550A: its registers and what waits in the receive FIFO.
struct SerialState {
  uint8_t ier = 0, lcr = 0, mcr = 0, scr = 0, dll = 0, dlm = 0, fcr = 0;
  bool thr_empty_pending = false;
  std::string rx;  // bytes the guest has not read yet
};

// The i8042: command byte, half-done commands and the output buffer.
struct I8042State {
  uint8_t command_byte = 0, pending_command = 0, pending_key_command = 0;
  std::string out;
};

// The CMOS clock: the index latch, the guest clock's offset from the host's (the guest's time goes
// on from the host's clock at restore, as a real RTC through a suspend), a time being set, and the
// 128 bytes of registers and NVRAM.
struct CmosRtcState {
  uint8_t index = 0;
  int64_t offset = 0;
  bool setting = false;
  int32_t sec = 0, min = 0, hour = 0, mday = 0, mon = 0, year = 0, wday = 0;  // struct tm fields, when setting
  std::array<uint8_t, 128> ram{};
};

// The IB700 watchdog (docs/vmm/watchdog.md): whether the guest started it, the timeout it chose
// (the start port's low nibble) and what was left of it when the VM was paused.
struct WatchdogState {
  bool armed = false;
  uint8_t timeout_value = 0;
  uint64_t remaining_ms = 0;
};

// One virtqueue as the driver configured it and as far as the device has walked it.
struct VirtqueueState {
  uint16_t size = 0;
  bool ready = false;
  uint64_t desc = 0, avail = 0, used = 0;
  uint16_t next_avail = 0, next_used = 0, signalled_used = 0;
};

// A virtio-mmio transport (quiesced: no request is in flight) and its device's kind.
struct VirtioState {
  uint32_t device_type = 0;
  uint64_t mmio_base = 0;
  uint32_t status = 0, interrupt_status = 0, config_generation = 0;
  uint32_t features_sel = 0, driver_features_sel = 0, queue_sel = 0;
  uint64_t driver_features = 0;
  std::vector<VirtqueueState> queues;
};

}  // namespace vessel::vmm::snapshot
