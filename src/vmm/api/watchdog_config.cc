#include "vmm/api/watchdog_config.h"

namespace vessel::vmm {

const char* to_string(WatchdogAction action) {
  switch (action) {
    case WatchdogAction::Reset: return "reset";
    case WatchdogAction::Poweroff: return "poweroff";
    case WatchdogAction::Pause: return "pause";
    case WatchdogAction::None: return "none";
  }
  return "reset";
}

std::optional<WatchdogAction> parse_watchdog_action(std::string_view text) {
  for (auto a : {WatchdogAction::Reset, WatchdogAction::Poweroff, WatchdogAction::Pause, WatchdogAction::None})
    if (text == to_string(a)) return a;
  return std::nullopt;
}

json::Json to_json(const WatchdogConfig& w) { return {{"model", "ib700"}, {"action", to_string(w.action)}}; }

Result<WatchdogConfig> parse_watchdog(const json::Json& j) {
  if (!j.is_object()) return fail(EINVAL, "watchdog: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "watchdog", {"model", "action"}));
  if (auto model = TRY(json::opt_string(j, "watchdog", "model")); model && *model != "ib700")
    return fail(EINVAL, "watchdog.model: '{}' is not supported (the only model is \"ib700\")", *model);
  WatchdogConfig w;
  if (auto text = TRY(json::opt_string(j, "watchdog", "action"))) {
    auto action = parse_watchdog_action(*text);
    if (!action) return fail(EINVAL, "watchdog.action: '{}' is not \"reset\", \"poweroff\", \"pause\" or \"none\"", *text);
    w.action = *action;
  }
  return w;
}

}  // namespace vessel::vmm
