#include "vmm/devices/legacy/serial.h"

#include <unistd.h>

namespace vessel::vmm {
namespace {
constexpr uint8_t kIerRxData = 0x01, kIerThrEmpty = 0x02;
constexpr uint8_t kIirNone = 0x01, kIirThrEmpty = 0x02, kIirRxData = 0x04, kIirFifo = 0xc0;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kLsrDataReady = 0x01, kLsrThrEmpty = 0x20, kLsrIdle = 0x40;
constexpr size_t kMaxLine = 512;
constexpr std::string_view kPanicMarker = "Kernel panic - not syncing";
}  // namespace

Serial::Serial(std::shared_ptr<InterruptLine> irq, int out_fd) : irq_(std::move(irq)), out_fd_(out_fd) {}

void Serial::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  data[0] = read_register(offset);
  for (size_t i = 1; i < data.size(); ++i) data[i] = 0;
}

void Serial::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  write_register(offset, data[0]);
}

uint8_t Serial::read_register(uint64_t offset) {
  switch (offset) {
    case 0:
      if (lcr_ & kLcrDlab) return dll_;
      if (rx_.empty()) return 0;
      {
        uint8_t b = rx_.front();
        rx_.pop_front();
        update_interrupt();
        return b;
      }
    case 1: return (lcr_ & kLcrDlab) ? dlm_ : ier_;
    case 2: {
      uint8_t fifo = (fcr_ & 1) ? kIirFifo : 0;
      if ((ier_ & kIerRxData) && !rx_.empty()) return fifo | kIirRxData;
      if ((ier_ & kIerThrEmpty) && thr_empty_pending_) {
        thr_empty_pending_ = false;  // reading IIR acknowledges THR empty
        return fifo | kIirThrEmpty;
      }
      return fifo | kIirNone;
    }
    case 3: return lcr_;
    case 4: return mcr_;
    case 5: return (rx_.empty() ? 0 : kLsrDataReady) | kLsrThrEmpty | kLsrIdle;
    case 6:
      if (mcr_ & kMcrLoop) {  // loopback: modem outputs wired to inputs
        return static_cast<uint8_t>(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) |
                                    ((mcr_ & 0x04) << 4) | ((mcr_ & 0x08) << 4));
      }
      return 0xb0;  // DCD, DSR, CTS
    case 7: return scr_;
    default: return 0xff;
  }
}

void Serial::write_register(uint64_t offset, uint8_t value) {
  switch (offset) {
    case 0:
      if (lcr_ & kLcrDlab) {
        dll_ = value;
        return;
      }
      if (mcr_ & kMcrLoop) {
        if (rx_.size() < kRxFifoBytes) rx_.push_back(value);
      } else {
        emit(value);
      }
      thr_empty_pending_ = true;
      update_interrupt();
      return;
    case 1:
      if (lcr_ & kLcrDlab) {
        dlm_ = value;
        return;
      }
      if ((value & kIerThrEmpty) && !(ier_ & kIerThrEmpty)) thr_empty_pending_ = true;
      ier_ = value & 0x0f;
      update_interrupt();
      return;
    case 2:
      fcr_ = value;
      if (value & 0x02) rx_.clear();
      return;
    case 3: lcr_ = value; return;
    case 4: mcr_ = value & 0x1f; return;
    case 7: scr_ = value; return;
    default: return;  // LSR/MSR are read-only
  }
}

void Serial::emit(uint8_t byte) {
  ++written_;
  if (out_fd_ >= 0) {
    ssize_t r;
    do {
      r = ::write(out_fd_, &byte, 1);
    } while (r < 0 && errno == EINTR);
  }
  if (tap_) tap_(std::string_view(reinterpret_cast<const char*>(&byte), 1));
  if (byte == '\n') {
    if (!panic_) {
      auto pos = line_.find(kPanicMarker);
      if (pos != std::string::npos) {
        std::string msg = line_.substr(pos);
        while (!msg.empty() && (msg.back() == '\r' || msg.back() == '\n')) msg.pop_back();
        panic_ = msg;
      }
    }
    line_.clear();
  } else if (line_.size() < kMaxLine) {
    line_.push_back(static_cast<char>(byte));
  }
}

void Serial::update_interrupt() {
  bool pending = ((ier_ & kIerRxData) && !rx_.empty()) || ((ier_ & kIerThrEmpty) && thr_empty_pending_);
  if (pending && irq_ && (mcr_ & 0x08)) (void)irq_->trigger();  // OUT2 gates the IRQ on PCs
}

size_t Serial::enqueue_input(std::string_view bytes) {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (char c : bytes) {
    if (rx_.size() >= kRxFifoBytes) break;
    rx_.push_back(static_cast<uint8_t>(c));
    ++n;
  }
  if (n) update_interrupt();
  return n;
}

std::optional<std::string> Serial::panic_message() const {
  std::lock_guard lock(mu_);
  return panic_;
}

void Serial::set_output_tap(std::function<void(std::string_view)> tap) {
  std::lock_guard lock(mu_);
  tap_ = std::move(tap);
}

uint64_t Serial::bytes_written() const {
  std::lock_guard lock(mu_);
  return written_;
}

snapshot::SerialState Serial::save_state() const {
  std::lock_guard lock(mu_);
  return {ier_, lcr_, mcr_, scr_, dll_, dlm_, fcr_, thr_empty_pending_, std::string(rx_.begin(), rx_.end())};
}

void Serial::restore_state(const snapshot::SerialState& st) {
  std::lock_guard lock(mu_);
  ier_ = st.ier;
  lcr_ = st.lcr;
  mcr_ = st.mcr;
  scr_ = st.scr;
  dll_ = st.dll;
  dlm_ = st.dlm;
  fcr_ = st.fcr;
  thr_empty_pending_ = st.thr_empty_pending;
  rx_.assign(st.rx.begin(), st.rx.begin() + std::min(st.rx.size(), kRxFifoBytes));
}

}  // namespace vessel::vmm
