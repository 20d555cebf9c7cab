#include "vmm/devices/legacy/cmos_rtc.h"

namespace vessel::vmm {
namespace {

constexpr uint8_t kIndexMask = 0x7f;    // bit 7 of the index port masks NMIs: not a register bit
constexpr uint8_t kStatusAUip = 0x80;   // update in progress: never set here
constexpr uint8_t kStatusDValid = 0x80; // "the battery is good": RAM and time are valid
constexpr uint8_t kHourPm = 0x80;

time_t host_now() { return ::time(nullptr); }

}  // namespace

CmosRtc::CmosRtc(Clock clock) : clock_(clock ? std::move(clock) : Clock(host_now)) {
  ram_[kStatusA] = 0x26;  // 32.768 kHz time base, 1024 Hz rate: what firmware leaves there
  ram_[kStatusB] = kStatusB24Hour;
  ram_[kStatusD] = kStatusDValid;
}

void CmosRtc::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  uint8_t value = offset == 0 ? index_ : read_register(index_);
  for (auto& b : data) b = value;
}

void CmosRtc::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  std::lock_guard lock(mu_);
  if (offset == 0)
    index_ = data[0] & kIndexMask;
  else
    write_register(index_, data[0]);
}

bool CmosRtc::is_time_register(uint8_t index) const {
  switch (index) {
    case kSeconds: case kMinutes: case kHours: case kWeekday: case kDay: case kMonth: case kYear:
    case kCentury: return true;
    default: return false;
  }
}

uint8_t CmosRtc::encode(int value) const {
  if (ram_[kStatusB] & kStatusBBinary) return static_cast<uint8_t>(value);
  return static_cast<uint8_t>(((value / 10) << 4) | (value % 10));
}

int CmosRtc::decode(uint8_t value) const {
  if (ram_[kStatusB] & kStatusBBinary) return value;
  return (value >> 4) * 10 + (value & 0x0f);
}

uint8_t CmosRtc::encode_hour(int hour) const {
  if (ram_[kStatusB] & kStatusB24Hour) return encode(hour);
  int twelve = hour % 12 == 0 ? 12 : hour % 12;
  return static_cast<uint8_t>(encode(twelve) | (hour >= 12 ? kHourPm : 0));
}

int CmosRtc::decode_hour(uint8_t value) const {
  if (ram_[kStatusB] & kStatusB24Hour) return decode(value);
  int twelve = decode(value & ~kHourPm) % 12;
  return (value & kHourPm) ? twelve + 12 : twelve;
}

struct tm CmosRtc::guest_time() const {
  if (setting_) return *setting_;  // SET: the clock stands still while the guest writes it
  time_t t = clock_() + offset_;
  struct tm out{};
  gmtime_r(&t, &out);
  return out;
}

uint8_t CmosRtc::read_register(uint8_t index) {
  if (!is_time_register(index)) {
    switch (index) {
      case kStatusA: return ram_[kStatusA] & ~kStatusAUip;
      case kStatusC: return 0;  // no interrupt flags: none is ever raised
      case kStatusD: return kStatusDValid;
      default: return ram_[index];
    }
  }
  struct tm t = guest_time();
  switch (index) {
    case kSeconds: return encode(t.tm_sec);
    case kMinutes: return encode(t.tm_min);
    case kHours: return encode_hour(t.tm_hour);
    case kWeekday: return encode(t.tm_wday + 1);  // 1 = Sunday
    case kDay: return encode(t.tm_mday);
    case kMonth: return encode(t.tm_mon + 1);
    case kYear: return encode((t.tm_year + 1900) % 100);
    default: return encode((t.tm_year + 1900) / 100);  // kCentury
  }
}

void CmosRtc::write_register(uint8_t index, uint8_t value) {
  if (index == kStatusC || index == kStatusD) return;  // read-only
  if (index == kStatusA) {
    ram_[kStatusA] = value & ~kStatusAUip;
    return;
  }
  if (index == kStatusB) {
    bool was_set = ram_[kStatusB] & kStatusBSet, now_set = value & kStatusBSet;
    if (!was_set && now_set) setting_ = guest_time();
    ram_[kStatusB] = value;
    if (was_set && !now_set && setting_) {
      offset_ = static_cast<int64_t>(timegm(&*setting_)) - clock_();
      setting_.reset();
    }
    return;
  }
  if (!is_time_register(index)) {
    ram_[index] = value;
    return;
  }
  // Outside SET (rare: Linux always sets it) one field changes at once and the clock goes on.
  bool latched = setting_.has_value();
  struct tm t = guest_time();
  switch (index) {
    case kSeconds: t.tm_sec = decode(value); break;
    case kMinutes: t.tm_min = decode(value); break;
    case kHours: t.tm_hour = decode_hour(value); break;
    case kWeekday: return;  // derived from the date
    case kDay: t.tm_mday = decode(value); break;
    case kMonth: t.tm_mon = decode(value) - 1; break;
    case kYear: t.tm_year = (t.tm_year + 1900) / 100 * 100 + decode(value) - 1900; break;
    default: t.tm_year = decode(value) * 100 + (t.tm_year + 1900) % 100 - 1900; break;
  }
  if (latched)
    setting_ = t;
  else
    offset_ = static_cast<int64_t>(timegm(&t)) - clock_();
}

snapshot::CmosRtcState CmosRtc::save_state() {
  std::lock_guard lock(mu_);
  snapshot::CmosRtcState st;
  st.index = index_;
  st.offset = offset_;
  st.setting = setting_.has_value();
  if (setting_) {
    st.sec = setting_->tm_sec;
    st.min = setting_->tm_min;
    st.hour = setting_->tm_hour;
    st.mday = setting_->tm_mday;
    st.mon = setting_->tm_mon;
    st.year = setting_->tm_year;
    st.wday = setting_->tm_wday;
  }
  st.ram = ram_;
  return st;
}

void CmosRtc::restore_state(const snapshot::CmosRtcState& st) {
  std::lock_guard lock(mu_);
  index_ = st.index & kIndexMask;
  offset_ = st.offset;
  setting_.reset();
  if (st.setting) {
    struct tm t {};
    t.tm_sec = st.sec;
    t.tm_min = st.min;
    t.tm_hour = st.hour;
    t.tm_mday = st.mday;
    t.tm_mon = st.mon;
    t.tm_year = st.year;
    t.tm_wday = st.wday;
    setting_ = t;
  }
  ram_ = st.ram;
}

}  // namespace vessel::vmm
