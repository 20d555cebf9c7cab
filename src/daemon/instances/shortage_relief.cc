#include "daemon/instances/shortage_relief.h"

#include "base/log.h"

namespace vessel::daemon {

ShortageRelief::ShortageRelief(Manager& manager, EventBus& events, Pools& pools)
    : manager_(manager), events_(events), pools_(pools) {
  pools_.set_shortage_handler([this](const std::string& pool, const std::string& member, ShortageAction action) {
    workers_.spawn([this, pool, member, action] { relieve(pool, member, action); });
  });
}

ShortageRelief::~ShortageRelief() { pools_.set_shortage_handler({}); }

void ShortageRelief::relieve(const std::string& pool, const std::string& member, ShortageAction action) {
  // A container has no suspend to disk of its own (its checkpoint needs CRIU): it is stopped.
  bool vm = manager_.is_vm(member).value_or(false);
  Action act = action == ShortageAction::Suspend && vm ? Action::Suspend : Action::Stop;
  // The pool is over its memory meanwhile: a short grace, not the spec's stop timeout.
  ActOptions options;
  options.timeout_s = kEvictGraceS;
  auto done = manager_.act(member, act, options);
  json::Json event = {{"type", "pool-shortage"}, {"pool", pool}, {"name", member}, {"action", std::string(to_string(act))}};
  if (!done) {
    event["error"] = done.error().to_string();
    log::warn("pool {}: could not {} {} on a memory shortage: {}", pool, to_string(act), member, done.error().to_string());
  }
  events_.publish(std::move(event));
}

}  // namespace vessel::daemon
