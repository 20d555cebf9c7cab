// The iBASE IB700 single-board computer's watchdog timer, an ISA device with two write-only
// ports: 0x443 starts the timer (or restarts it: a "pet") with the timeout its low nibble picks
// from a table (0 -> 30 s, 1 -> 28 s ... 14 -> 2 s, 15 -> 0 s), 0x441 stops it. Linux drives it
// with ib700wdt (/dev/watchdog); QEMU offers the same model (-device ib700), which is why we
// chose it: port I/O only, no PCI, nothing to probe.
//
// Time counts only while the VM runs: pause() freezes what is left and resume() goes on from
// there, as after a snapshot's load. The device never acts by itself: the thread that owns the
// machine asks deadline() how long it may sleep and calls expire() when it wakes; the device
// calls `sooner` when a guest write moves the deadline earlier (armed, or a shorter timeout), so
// that thread can wait again (docs/vmm/watchdog.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "base/json.h"
#include "vmm/bus/bus.h"
#include "vmm/snapshot/device_state.h"

namespace vessel::vmm {

class Ib700Watchdog : public BusDevice {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // `now`: the clock (tests pass their own); `sooner`: called (without the lock held) when the
  // deadline moved earlier.
  explicit Ib700Watchdog(std::function<void()> sooner = nullptr, Now now = nullptr);

  // Inserted at kPortIb700Stop with length 3: +0 stop (0x441), +2 start/pet (0x443). Reads
  // return all ones (the ports are write-only).
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // When the timer runs out; nullopt while it is stopped or the VM is paused.
  std::optional<Clock::time_point> deadline() const;
  // True once when the timer has run out: it is then stopped (a guest may start it again).
  bool expire();
  // The VM's vCPUs stopped or started running: the timer is frozen or goes on.
  void pause();
  void resume();

  // The timeout the guest chose last.
  std::chrono::seconds timeout() const;
  // The timeout each value of the start port's low nibble selects.
  static std::chrono::seconds timeout_of(uint8_t value);

  // For snapshots (taken while the VM is paused); a restored device is paused until resume().
  snapshot::WatchdogState save_state() const;
  void restore_state(const snapshot::WatchdogState& state);

  // {"model", "armed", "timeout_s", "pets", "stops", "expirations"}.
  json::Json metrics() const;

  static constexpr uint64_t kStopOffset = 0, kStartOffset = 2, kPortCount = 3;

 private:
  Clock::time_point now() const { return now_ ? now_() : Clock::now(); }

  std::function<void()> sooner_;
  Now now_;
  mutable std::mutex mu_;
  bool armed_ = false;
  bool running_ = false;  // the VM runs: the deadline counts down
  uint8_t timeout_value_ = 0;  // the last start write's low nibble
  Clock::time_point deadline_{};          // while armed_ and running_
  std::chrono::milliseconds remaining_{};  // while armed_ and paused
  uint64_t pets_ = 0, stops_ = 0, expirations_ = 0;
};

}  // namespace vessel::vmm
