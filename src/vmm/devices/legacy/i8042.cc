#include "vmm/devices/legacy/i8042.h"

#include "base/log.h"

namespace vessel::vmm {
namespace {
// Status bit 4 set: the keyboard is not inhibited (Linux warns "Keylock active" otherwise).
constexpr uint8_t kStatusOutputFull = 0x01, kStatusSystemFlag = 0x04, kStatusCommand = 0x08,
                  kStatusNotInhibited = 0x10;
constexpr uint8_t kCtrKeyboardInterrupt = 0x01, kCtrTranslate = 0x40;
constexpr uint8_t kCmdReadCommandByte = 0x20, kCmdWriteCommandByte = 0x60, kCmdSelfTest = 0xaa,
                  kCmdInterfaceTest = 0xab, kCmdDisableKeyboard = 0xad, kCmdEnableKeyboard = 0xae,
                  kCmdReadOutputPort = 0xd0, kCmdWriteOutputPort = 0xd1, kCmdPulseReset = 0xfe;
// The auxiliary (mouse) port, which this controller does not have: its tests fail the way Linux
// reads as "no AUX port", and bytes meant for it are swallowed.
constexpr uint8_t kCmdDisableAux = 0xa7, kCmdEnableAux = 0xa8, kCmdAuxTest = 0xa9, kCmdWriteKeyboardOutput = 0xd2,
                  kCmdWriteAuxOutput = 0xd3, kCmdWriteAux = 0xd4;
constexpr uint8_t kAuxTestClockStuck = 0x02;
constexpr uint8_t kCtrKeyboardDisabled = 0x10, kCtrAuxDisabled = 0x20;
// Keyboard (device) commands and replies.
constexpr uint8_t kKbdAck = 0xfa, kKbdEcho = 0xee, kKbdGetId = 0xf2, kKbdReset = 0xff,
                  kKbdSetLeds = 0xed, kKbdScanSet = 0xf0, kKbdSetRate = 0xf3, kKbdSelfTestOk = 0xaa;
// Set-2 make codes; Delete is extended (E0 prefix).
constexpr uint8_t kSet2Ctrl = 0x14, kSet2Alt = 0x11, kSet2Del = 0x71, kExtended = 0xe0;

// Set 2 to set 1 for the keys we type (the controller's XLATE mode).
uint8_t translate(uint8_t set2) {
  switch (set2) {
    case kSet2Ctrl: return 0x1d;
    case kSet2Alt: return 0x38;
    case kSet2Del: return 0x53;
    default: return set2;  // E0 prefix and replies pass through
  }
}
}  // namespace

void I8042::read(uint64_t offset, std::span<uint8_t> data) {
  bool irq = false;
  uint8_t value = 0xff;
  {
    std::lock_guard lock(mu_);
    if (offset == 4) {
      value = kStatusSystemFlag | kStatusCommand | kStatusNotInhibited | (out_.empty() ? 0 : kStatusOutputFull);
    } else if (offset == 0) {
      value = 0;
      if (!out_.empty()) {
        value = out_.front();
        out_.pop_front();
        // The next byte gets its own interrupt, as each byte does on real hardware.
        irq = !out_.empty() && (command_byte_ & kCtrKeyboardInterrupt);
      }
    }
  }
  data[0] = value;
  for (size_t i = 1; i < data.size(); ++i) data[i] = 0;
  if (irq) raise_irq();
}

void I8042::write(uint64_t offset, std::span<const uint8_t> data) {
  uint8_t value = data[0];
  bool reset = false, irq = false;
  {
    std::lock_guard lock(mu_);
    if (offset == 4) {
      pending_command_ = 0;
      switch (value) {
        case kCmdReadCommandByte: push_reply(command_byte_); break;
        case kCmdWriteCommandByte:
        case kCmdWriteOutputPort:
        case kCmdWriteKeyboardOutput:
        case kCmdWriteAuxOutput:
        case kCmdWriteAux: pending_command_ = value; break;
        case kCmdDisableAux: command_byte_ |= kCtrAuxDisabled; break;
        case kCmdEnableAux: command_byte_ &= ~kCtrAuxDisabled; break;
        case kCmdAuxTest: push_reply(kAuxTestClockStuck); break;
        case kCmdSelfTest: push_reply(0x55); break;
        case kCmdInterfaceTest: push_reply(0x00); break;
        case kCmdReadOutputPort: push_reply(0x01); break;
        case kCmdDisableKeyboard: command_byte_ |= kCtrKeyboardDisabled; break;
        case kCmdEnableKeyboard: command_byte_ &= ~kCtrKeyboardDisabled; break;
        case kCmdPulseReset: reset = true; break;
        default: break;
      }
    } else if (offset == 0) {
      if (pending_command_ == kCmdWriteCommandByte) {
        bool was_enabled = command_byte_ & kCtrKeyboardInterrupt;
        command_byte_ = value;
        irq = !was_enabled && (value & kCtrKeyboardInterrupt) && !out_.empty();
      } else if (pending_command_ == kCmdWriteOutputPort) {
        // Output port bit 0 low is the CPU reset line.
        if (!(value & 1)) reset = true;
      } else if (pending_command_ == kCmdWriteKeyboardOutput) {
        irq = push_key_byte(value);  // as if the keyboard had sent it
      } else if (pending_command_ == kCmdWriteAuxOutput || pending_command_ == kCmdWriteAux) {
        // no AUX device: nothing answers
      } else {
        keyboard_command(value, irq);
      }
      pending_command_ = 0;
    }
  }
  if (irq) raise_irq();
  if (reset) events_({VmEvent::Kind::Reboot, 0, "i8042 reset"});
}

// A byte written to port 0x60 with no controller command pending goes to the keyboard.
void I8042::keyboard_command(uint8_t value, bool& irq) {
  if (pending_key_command_) {  // the parameter of SETLEDS / SCANSET / SETRATE
    uint8_t cmd = pending_key_command_;
    pending_key_command_ = 0;
    irq |= push_key_byte(kKbdAck);
    if (cmd == kKbdScanSet && value == 0) irq |= push_key_byte(0x02);  // "which set": 2
    return;
  }
  switch (value) {
    case kKbdEcho: irq |= push_key_byte(kKbdEcho); break;
    case kKbdReset:
      irq |= push_key_byte(kKbdAck);
      irq |= push_key_byte(kKbdSelfTestOk);
      break;
    case kKbdGetId:  // an MF2 keyboard
      irq |= push_key_byte(kKbdAck);
      irq |= push_key_byte(0xab);
      irq |= push_key_byte(0x83);
      break;
    case kKbdSetLeds:
    case kKbdScanSet:
    case kKbdSetRate:
      pending_key_command_ = value;
      irq |= push_key_byte(kKbdAck);
      break;
    default: irq |= push_key_byte(kKbdAck); break;
  }
}

bool I8042::push_reply(uint8_t byte) {
  if (out_.size() >= kBufferSize) return false;
  out_.push_back(byte);
  return false;  // controller replies are polled by the driver; no interrupt
}

bool I8042::push_key_byte(uint8_t set2_code) {
  if (out_.size() >= kBufferSize) return false;
  out_.push_back((command_byte_ & kCtrTranslate) ? translate(set2_code) : set2_code);
  return command_byte_ & kCtrKeyboardInterrupt;
}

Result<void> I8042::send_ctrl_alt_del() {
  bool irq = false;
  {
    std::lock_guard lock(mu_);
    if (out_.size() + 4 > kBufferSize)
      return fail(EBUSY, "the guest's keyboard buffer is full (it does not read the i8042)");
    irq |= push_key_byte(kSet2Ctrl);
    irq |= push_key_byte(kSet2Alt);
    irq |= push_key_byte(kExtended);
    irq |= push_key_byte(kSet2Del);
  }
  // One edge for the first byte; each read of port 0x60 raises the next (see read()).
  if (irq) raise_irq();
  return {};
}

void I8042::reset() {
  std::lock_guard lock(mu_);
  command_byte_ = 0;
  pending_command_ = pending_key_command_ = 0;
  out_.clear();
}

void I8042::raise_irq() {
  if (!irq_) return;
  if (auto r = irq_->trigger(); !r) log::warn("i8042: IRQ 1 failed: {}", r.error().to_string());
}

snapshot::I8042State I8042::save_state() {
  std::lock_guard lock(mu_);
  return {command_byte_, pending_command_, pending_key_command_, std::string(out_.begin(), out_.end())};
}

void I8042::restore_state(const snapshot::I8042State& st) {
  std::lock_guard lock(mu_);
  command_byte_ = st.command_byte;
  pending_command_ = st.pending_command;
  pending_key_command_ = st.pending_key_command;
  out_.assign(st.out.begin(), st.out.begin() + std::min(st.out.size(), kBufferSize));
}

}  // namespace vessel::vmm
