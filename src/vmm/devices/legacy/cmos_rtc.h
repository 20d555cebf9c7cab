// The MC146818 CMOS real-time clock of a PC at ports 0x70 (index) and 0x71 (data): the date and
// time (from the host's clock, BCD or binary, 12 or 24 hours as status register B asks), status
// registers A-D, and 114 bytes of battery-backed RAM that keep what the guest writes.
//
// Why a VM needs one: without it every read returns 0xff, whose "update in progress" bit never
// clears, and Linux then polls the clock for its full timeout (a second at each boot, in
// 20 000 port exits) before it gives up. The update cycle is never in progress here: a read
// always sees a settled time. Writing the time moves this VM's clock only (an offset from the
// host's). No interrupts: periodic, alarm and update interrupts are not raised (register C
// reads 0), so the guest must not rely on RTC alarms.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>

#include "vmm/bus/bus.h"
#include "vmm/snapshot/device_state.h"

namespace vessel::vmm {

class CmosRtc : public BusDevice {
 public:
  // The host's wall clock in seconds since the epoch; tests pass a fixed one.
  using Clock = std::function<time_t()>;
  explicit CmosRtc(Clock clock = nullptr);

  // Inserted at port 0x70 with length 2: +0 index (bit 7 masks NMIs), +1 data.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  // For snapshots (taken while the vCPUs are parked).
  snapshot::CmosRtcState save_state();
  void restore_state(const snapshot::CmosRtcState& state);

  // Register numbers (the index port's low 7 bits).
  static constexpr uint8_t kSeconds = 0x00, kMinutes = 0x02, kHours = 0x04, kWeekday = 0x06,
                           kDay = 0x07, kMonth = 0x08, kYear = 0x09, kStatusA = 0x0a,
                           kStatusB = 0x0b, kStatusC = 0x0c, kStatusD = 0x0d, kCentury = 0x32;
  static constexpr uint8_t kStatusBSet = 0x80, kStatusB24Hour = 0x02, kStatusBBinary = 0x04;

 private:
  uint8_t read_register(uint8_t index);
  void write_register(uint8_t index, uint8_t value);
  bool is_time_register(uint8_t index) const;
  uint8_t encode(int value) const;  // per register B: BCD or binary
  int decode(uint8_t value) const;
  uint8_t encode_hour(int hour) const;  // 24-hour clock, or 12-hour with bit 7 for PM
  int decode_hour(uint8_t value) const;
  struct tm guest_time() const;

  Clock clock_;
  std::mutex mu_;
  uint8_t index_ = 0;
  int64_t offset_ = 0;  // guest clock - host clock, in seconds
  std::optional<struct tm> setting_;  // while register B's SET bit is on: the time being written
  std::array<uint8_t, 128> ram_{};
};

}  // namespace vessel::vmm
