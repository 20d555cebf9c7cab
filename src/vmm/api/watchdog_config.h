// The watchdog resource (vessel extension, docs/vmm/watchdog.md): PUT /watchdog and the config
// file's "watchdog" section, {"model": "ib700", "action": "reset"|"poweroff"|"pause"|"none"}.
// Part of vessel_vmm_config (base only): vesseld fills it for `vessel run --vm --watchdog`.
#pragma once

#include <optional>
#include <string_view>

#include "base/error.h"
#include "base/json.h"

namespace vessel::vmm {

// What vessel-vmm does when the guest stops petting the watchdog in time (QEMU's -watchdog-action
// names). reset and poweroff end the VM with exit kind "watchdog" (reset reboots it in the same
// process instead when on_reboot is restart); pause leaves it paused; none only logs and counts.
enum class WatchdogAction { Reset, Poweroff, Pause, None };

struct WatchdogConfig {
  WatchdogAction action = WatchdogAction::Reset;  // the model is always "ib700"
};

const char* to_string(WatchdogAction action);
std::optional<WatchdogAction> parse_watchdog_action(std::string_view text);

json::Json to_json(const WatchdogConfig& w);
Result<WatchdogConfig> parse_watchdog(const json::Json& j);

}  // namespace vessel::vmm
