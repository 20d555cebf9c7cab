// Fuzz target: the port-I/O devices a guest reaches on every VM, wired as vessel-vmm wires them
// (the 8250 UART on COM1, the i8042 at 0x60..0x64, the CMOS clock at 0x70, the debug-exit port,
// the ACPI PM registers, the IB700 watchdog at 0x441..0x443)
// on one Bus, driven by a fuzzed sequence of port accesses and host-side calls (console input,
// Ctrl+Alt+Del, i8042 reset, the watchdog's clock, expiry, pause/resume and snapshot). Records of
// 8 bytes: kind, size selector, port (u16), value (u32).
// Checked: accesses to nothing read as all ones; a VM-ending event names a known kind; the
// UART takes no more input than its FIFO holds; an expired watchdog is stopped; a saved
// watchdog never has more time left than its timeout.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "base/log.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/bus/bus.h"
#include "vmm/devices/legacy/cmos_rtc.h"
#include "vmm/devices/legacy/i8042.h"
#include "vmm/devices/legacy/ib700_watchdog.h"
#include "vmm/devices/legacy/power_ports.h"
#include "vmm/devices/legacy/serial.h"

using namespace vessel;
using namespace vessel::vmm;

namespace {

void fuzz_check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "legacy_ports_fuzz: %s\n", what);
  std::abort();
}

class CountingLine final : public InterruptLine {
 public:
  Result<void> trigger() override {
    ++count;
    return {};
  }
  uint64_t count = 0;
};

// Ports around every device, and a few that belong to none (0x444.. after the watchdog too).
constexpr std::array<uint16_t, 8> kBases = {x86::kPortCom1, x86::kPortI8042Data, x86::kPortDebugExit,
                                            x86::kPortAcpiSleepControl, 0x3f0, x86::kPortIb700Stop, x86::kPortCmos, 0xcf8};

struct Wiring {
  Bus pio;
  std::shared_ptr<Serial> serial;
  std::shared_ptr<I8042> i8042;
  std::shared_ptr<Ib700Watchdog> watchdog;
  Ib700Watchdog::Clock::time_point now{};  // the watchdog's clock, moved by the input
  int events = 0;
};

void wire(Wiring& w, int null_fd) {
  EventSink sink = [&w](VmEvent e) {
    fuzz_check(std::string(to_string(e.kind)) != "", "an event without a name");
    ++w.events;
  };
  w.serial = std::make_shared<Serial>(std::make_shared<CountingLine>(), null_fd);
  w.i8042 = std::make_shared<I8042>(sink, std::make_shared<CountingLine>());
  fuzz_check(w.pio.insert(w.serial, x86::kPortCom1, 8).has_value(), "insert serial");
  fuzz_check(w.pio.insert(w.i8042, x86::kPortI8042Data, 5).has_value(), "insert i8042");
  fuzz_check(w.pio.insert(std::make_shared<CmosRtc>(), x86::kPortCmos, 2).has_value(), "insert rtc");
  fuzz_check(w.pio.insert(std::make_shared<DebugExit>(sink), x86::kPortDebugExit, 1).has_value(), "insert debug exit");
  fuzz_check(w.pio.insert(std::make_shared<AcpiPower>(sink), x86::kPortAcpiSleepControl, 3).has_value(), "insert acpi");
  w.watchdog = std::make_shared<Ib700Watchdog>(nullptr, [&w] { return w.now; });
  w.watchdog->resume();
  fuzz_check(w.pio.insert(w.watchdog, x86::kPortIb700Stop, Ib700Watchdog::kPortCount).has_value(), "insert watchdog");
}

// The host's side of the watchdog: time passes (value ms), it is checked, the VM pauses and
// resumes, or it goes through a snapshot.
void watchdog_host(Wiring& w, uint8_t kind, uint32_t value) {
  auto& d = *w.watchdog;
  if (kind == 6) {
    w.now += std::chrono::milliseconds(value & 0xffff);
    if (d.expire()) fuzz_check(!d.deadline(), "an expired watchdog must be stopped");
    return;
  }
  d.pause();
  if (value & 1) {
    auto saved = d.save_state();
    fuzz_check(saved.remaining_ms <= 30'000, "a saved watchdog has more time left than any timeout");
    saved.remaining_ms = value;  // as a hostile snapshot file would
    d.restore_state(saved);
    fuzz_check(d.save_state().remaining_ms <= static_cast<uint64_t>(Ib700Watchdog::timeout_of(saved.timeout_value).count()) * 1000,
               "a restored watchdog waits longer than its timeout");
  }
  d.resume();
}

void access(Wiring& w, uint8_t kind, uint8_t size_sel, uint16_t port_sel, uint32_t value) {
  static constexpr size_t kSizes[4] = {1, 2, 4, 8};
  size_t size = kSizes[size_sel & 3];
  uint64_t port = kBases[port_sel % kBases.size()] + ((port_sel >> 8) & 7);
  uint8_t buf[8] = {};
  std::memcpy(buf, &value, 4);
  switch (kind % 8) {
    case 0: {
      std::memset(buf, 0xa5, sizeof buf);
      if (!w.pio.read(port, std::span<uint8_t>(buf, size)))
        for (size_t i = 0; i < size; ++i) fuzz_check(buf[i] == 0xff, "an access to nothing must read as all ones");
      break;
    }
    case 1:
    case 2:
      w.pio.write(port, std::span<const uint8_t>(buf, size));
      break;
    case 3: {
      std::string input(value & 0x1fff, static_cast<char>(value >> 24));
      fuzz_check(w.serial->enqueue_input(input) <= Serial::kRxFifoBytes, "the UART took more than its FIFO");
      break;
    }
    case 4:
      (void)w.i8042->send_ctrl_alt_del();  // fails when the guest does not drain the buffer
      break;
    case 5:
      w.i8042->reset();
      break;
    case 6:
    case 7:
      watchdog_host(w, kind % 8, value);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int null_fd = [] {
    log::set_level(log::Level::Error);
    return ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  }();
  Wiring w;
  wire(w, null_fd);
  for (size_t at = 0; at + 8 <= size && at < 8 * 4096; at += 8) {
    uint16_t port;
    uint32_t value;
    std::memcpy(&port, data + at + 2, 2);
    std::memcpy(&value, data + at + 4, 4);
    access(w, data[at], data[at + 1], port, value);
  }
  return 0;
}
