// Admission control, the manager's half (docs/daemon/README.md "Resources and admission"): only
// instances that hold resources count (running, paused, and starts admitted but not yet running);
// created, stopped and saved (suspended, checkpointed) instances hold none. A create is checked
// against the holders for early feedback; every start (and resume from disk) is checked again.
#include "daemon/instances/manager.h"

namespace vessel::daemon {

Result<std::vector<Reservation>> Manager::reservations(const std::string& except) {
  std::vector<Reservation> out;
  for (const auto& row : TRY(store_.list_instances())) {
    if (row.name == except) continue;
    auto state = parse_state(row.state);
    bool holds = (state && holds_resources(*state)) || starting_.contains(row.name);
    if (!holds) continue;
    auto other = parse_spec_text(row.spec);
    if (other) out.push_back({other->cpu_reservation, other->memory_reservation_mib});
  }
  return out;
}

Result<uint32_t> Manager::admit_start(const std::string& name, const InstanceSpec& spec, bool restoring) {
  std::lock_guard lock(create_mutex_);
  auto existing = TRY(reservations(name));
  auto admitted = admit(config_.capacity, config_.overcommit, existing, {spec.cpu_reservation, spec.memory_reservation_mib});
  if (!admitted) {
    if (restoring)
      return Unexpected(std::move(admitted).error()
                            .add_context(fmt::format("resume {}: its resources are taken", name))
                            .with_hint("stop or suspend another instance, then resume again; it stays saved meanwhile"));
    return Unexpected(std::move(admitted).error().add_context(fmt::format("start {}", name)));
  }
  uint32_t weight = TRY(admit_to_pool(spec));
  starting_.insert(name);
  return weight;
}

Result<uint32_t> Manager::admit_to_pool(const InstanceSpec& spec) {
  if (!spec.pool) return spec.cpu_weight;
  if (!pools_) return fail(ENOTSUP, "this vesseld has no pools");
  return pools_->admit(spec.name, spec);
}

void Manager::end_start(const std::string& name) {
  std::lock_guard lock(create_mutex_);
  starting_.erase(name);
}

}  // namespace vessel::daemon
