// --rm (docs/daemon/run.md): an instance whose spec has auto_remove is removed once it stops by
// itself or is stopped, and when its start fails. A client that runs it and then waits for its
// exit holds the removal (POST /v1/instances?start=1&hold=1) until its wait has answered, so
// that it learns the exit status (and reads the output) of an instance that ends at once.
#include "base/log.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

Result<json::Json> Manager::run(const InstanceSpec& requested, bool hold_removal) {
  if (hold_removal && requested.auto_remove) {
    std::lock_guard lock(holds_mutex_);
    ++removal_holds_[requested.name];
  }
  auto ran = run_instance(requested);
  if (!ran && requested.auto_remove) {
    forget_removal_holds(requested.name);
    if (auto removed = remove_with_volumes(requested.name, true); !removed && removed.error().errnum() != ENOENT)
      log::warn("--rm: cannot remove {} after its failed start: {}", requested.name, removed.error().to_string());
  }
  return ran;
}

void Manager::release_removal(const std::string& name) {
  {
    std::lock_guard lock(holds_mutex_);
    auto it = removal_holds_.find(name);
    if (it == removal_holds_.end()) return;
    if (--it->second > 0) return;
    removal_holds_.erase(it);
  }
  remove_if_auto(name);
}

void Manager::forget_removal_holds(const std::string& name) {
  std::lock_guard lock(holds_mutex_);
  removal_holds_.erase(name);
}

void Manager::remove_if_auto(const std::string& name) {
  {
    std::lock_guard lock(holds_mutex_);
    if (removal_holds_.contains(name)) return;
  }
  auto loaded = load(name);
  if (!loaded) return;
  auto& [row, spec] = *loaded;
  if (!spec.auto_remove || row.state != to_string(State::Stopped)) return;
  auto removed = remove_with_volumes(name, false);
  if (removed) log::info("--rm: removed {} once it stopped", name);
  else if (removed.error().errnum() != ENOENT) log::warn("--rm: cannot remove {}: {}", name, removed.error().to_string());
}

void Manager::remove_stopped_auto_removed() {
  auto rows = store_.list_instances();
  if (!rows) return;
  for (const auto& row : *rows)
    if (row.state == to_string(State::Stopped)) remove_if_auto(row.name);
}

}  // namespace vessel::daemon
