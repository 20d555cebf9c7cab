#include "vmm/devices/legacy/ib700_watchdog.h"

#include <algorithm>
#include <cstring>

namespace vessel::vmm {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

Ib700Watchdog::Ib700Watchdog(std::function<void()> sooner, Now now) : sooner_(std::move(sooner)), now_(std::move(now)) {}

std::chrono::seconds Ib700Watchdog::timeout_of(uint8_t value) {
  return std::chrono::seconds(30 - 2 * (value & 0x0f));
}

std::chrono::seconds Ib700Watchdog::timeout() const {
  std::lock_guard lock(mu_);
  return timeout_of(timeout_value_);
}

void Ib700Watchdog::read(uint64_t, std::span<uint8_t> data) { std::memset(data.data(), 0xff, data.size()); }

void Ib700Watchdog::write(uint64_t offset, std::span<const uint8_t> data) {
  bool earlier = false;
  {
    std::lock_guard lock(mu_);
    if (offset == kStopOffset) {
      if (armed_) ++stops_;
      armed_ = false;
    } else if (offset == kStartOffset) {
      timeout_value_ = data[0] & 0x0f;  // the high nibble is ignored, as by the board
      auto timeout = timeout_of(timeout_value_);
      ++pets_;
      if (running_) {
        auto next = now() + timeout;
        earlier = !armed_ || next < deadline_;
        deadline_ = next;
      } else {
        remaining_ = timeout;  // a write while paused: cannot happen from a vCPU, but stays consistent
      }
      armed_ = true;
    }
  }
  if (earlier && sooner_) sooner_();
}

std::optional<Ib700Watchdog::Clock::time_point> Ib700Watchdog::deadline() const {
  std::lock_guard lock(mu_);
  if (!armed_ || !running_) return std::nullopt;
  return deadline_;
}

bool Ib700Watchdog::expire() {
  std::lock_guard lock(mu_);
  if (!armed_ || !running_ || now() < deadline_) return false;
  armed_ = false;
  ++expirations_;
  return true;
}

void Ib700Watchdog::pause() {
  std::lock_guard lock(mu_);
  if (!running_) return;
  running_ = false;
  if (armed_) remaining_ = std::max(milliseconds(0), duration_cast<milliseconds>(deadline_ - now()));
}

void Ib700Watchdog::resume() {
  bool armed = false;
  {
    std::lock_guard lock(mu_);
    if (running_) return;
    running_ = true;
    if (armed_) deadline_ = now() + remaining_;
    armed = armed_;
  }
  if (armed && sooner_) sooner_();
}

snapshot::WatchdogState Ib700Watchdog::save_state() const {
  std::lock_guard lock(mu_);
  snapshot::WatchdogState s;
  s.armed = armed_;
  s.timeout_value = timeout_value_;
  if (armed_)
    s.remaining_ms = static_cast<uint64_t>(
        running_ ? std::max(milliseconds(0), duration_cast<milliseconds>(deadline_ - now())).count()
                 : remaining_.count());
  return s;
}

void Ib700Watchdog::restore_state(const snapshot::WatchdogState& s) {
  std::lock_guard lock(mu_);
  running_ = false;
  armed_ = s.armed;
  timeout_value_ = s.timeout_value & 0x0f;
  // Never more than the timeout it was started with: a file cannot make the guest wait longer.
  auto limit = duration_cast<milliseconds>(timeout_of(timeout_value_));
  remaining_ = milliseconds(static_cast<int64_t>(std::min<uint64_t>(s.remaining_ms, limit.count())));
}

json::Json Ib700Watchdog::metrics() const {
  std::lock_guard lock(mu_);
  return {{"model", "ib700"}, {"armed", armed_}, {"timeout_s", timeout_of(timeout_value_).count()},
          {"pets", pets_},    {"stops", stops_}, {"expirations", expirations_}};
}

}  // namespace vessel::vmm
