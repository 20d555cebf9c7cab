#include "vmm/devices/legacy/i8042.h"

namespace vessel::vmm {
namespace {
constexpr uint8_t kStatusOutputFull = 0x01, kStatusSystemFlag = 0x04, kStatusCommand = 0x08;
constexpr uint8_t kCmdReadCommandByte = 0x20, kCmdWriteCommandByte = 0x60, kCmdSelfTest = 0xaa,
                  kCmdInterfaceTest = 0xab, kCmdReadOutputPort = 0xd0, kCmdWriteOutputPort = 0xd1,
                  kCmdPulseReset = 0xfe;
}  // namespace

void I8042::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  uint8_t value = 0xff;
  if (offset == 4) {
    value = kStatusSystemFlag | kStatusCommand | (out_byte_ >= 0 ? kStatusOutputFull : 0);
  } else if (offset == 0) {
    value = out_byte_ >= 0 ? static_cast<uint8_t>(out_byte_) : 0;
    out_byte_ = -1;
  }
  data[0] = value;
  for (size_t i = 1; i < data.size(); ++i) data[i] = 0;
}

void I8042::write(uint64_t offset, std::span<const uint8_t> data) {
  uint8_t value = data[0];
  bool reset = false;
  {
    std::lock_guard lock(mu_);
    if (offset == 4) {
      pending_command_ = 0;
      switch (value) {
        case kCmdReadCommandByte: out_byte_ = command_byte_; break;
        case kCmdWriteCommandByte:
        case kCmdWriteOutputPort: pending_command_ = value; break;
        case kCmdSelfTest: out_byte_ = 0x55; break;
        case kCmdInterfaceTest: out_byte_ = 0x00; break;
        case kCmdReadOutputPort: out_byte_ = 0x01; break;
        case kCmdPulseReset: reset = true; break;
        default: break;
      }
    } else if (offset == 0) {
      if (pending_command_ == kCmdWriteCommandByte) command_byte_ = value;
      // Output port bit 0 low is the CPU reset line.
      if (pending_command_ == kCmdWriteOutputPort && !(value & 1)) reset = true;
      pending_command_ = 0;
    }
  }
  if (reset) events_({VmEvent::Kind::Reboot, 0, "i8042 reset"});
}

}  // namespace vessel::vmm
