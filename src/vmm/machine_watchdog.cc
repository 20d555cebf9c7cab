// The machine's side of the IB700 watchdog (docs/vmm/watchdog.md): the device only keeps time;
// the VMM thread wakes at its deadline and acts here, per the configuration's action.
#include "base/log.h"
#include "vmm/machine_impl.h"

namespace vessel::vmm {

int Machine::watchdog_fd() const {
  return impl_ && impl_->watchdog_wake ? impl_->watchdog_wake->fd() : -1;
}

std::optional<std::chrono::steady_clock::time_point> Machine::watchdog_deadline() const {
  if (!impl_ || !impl_->watchdog) return std::nullopt;
  return impl_->watchdog->deadline();
}

void Machine::check_watchdog() {
  if (!impl_ || !impl_->watchdog) return;
  (void)impl_->watchdog_wake->consume();  // the caller recomputes its sleep from the deadline
  if (!impl_->watchdog->expire()) return;
  ++watchdog_expirations_;
  WatchdogAction action = config_.watchdog->action;
  std::string reason = fmt::format("the guest's watchdog (ib700, {} s) expired: action {}",
                                   impl_->watchdog->timeout().count(), to_string(action));
  log::warn("{}", reason);
  switch (action) {
    case WatchdogAction::Reset:
    case WatchdogAction::Poweroff: post_event({VmEvent::Kind::Watchdog, 4, reason}); break;
    case WatchdogAction::Pause:
      if (auto paused = pause(); !paused) log::error("watchdog: pause the VM: {}", paused.error().to_string());
      break;
    case WatchdogAction::None: break;
  }
}

}  // namespace vessel::vmm
