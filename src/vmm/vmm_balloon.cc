// The balloon's API actions on the VMM thread (docs/vmm/balloon.md): before InstanceStart they edit
// the configuration; afterwards they reach the running device through the Machine.
#include "vmm/devices/virtio/balloon/balloon.h"
#include "vmm/vmm.h"

namespace vessel::vmm {

using json::Json;

namespace {
constexpr const char* kNoBalloon = "balloon device not configured: PUT /balloon before InstanceStart";
}

VmmReply Vmm::on(const action::PutBalloon& put) {
  if (machine_) return fail(EINVAL, "balloon: the VM is already running: PUT /balloon only before InstanceStart (PATCH changes the target)");
  TRY(check_balloon(put.balloon, config_.machine.mem_size_mib, config_.machine.huge_pages != HugePages::None));
  config_.balloon = put.balloon;
  return std::nullopt;
}

VmmReply Vmm::on(const action::PatchBalloon& patch) {
  if (!config_.balloon) return fail(EINVAL, kNoBalloon);
  if (machine_) {
    TRY(machine_->set_balloon_target(patch.amount_mib));
  } else {
    BalloonConfig next = *config_.balloon;
    next.amount_mib = patch.amount_mib;
    TRY(check_balloon(next, config_.machine.mem_size_mib, false));
  }
  config_.balloon->amount_mib = patch.amount_mib;
  return std::nullopt;
}

VmmReply Vmm::on(const action::GetBalloon&) {
  if (!config_.balloon) return fail(EINVAL, kNoBalloon);
  Json j = to_json(*config_.balloon);
  if (auto* b = machine_ ? machine_->balloon() : nullptr) {  // vessel extension: where the guest is
    Json s = b->statistics();
    for (const char* key : {"target_pages", "actual_pages", "target_mib", "actual_mib"}) j[key] = s[key];
  }
  return j;
}

VmmReply Vmm::on(const action::PatchBalloonStats& patch) {
  if (!config_.balloon) return fail(EINVAL, kNoBalloon);
  if (machine_) TRY(machine_->set_balloon_stats_interval(patch.stats_polling_interval_s));
  config_.balloon->stats_polling_interval_s = patch.stats_polling_interval_s;
  return std::nullopt;
}

VmmReply Vmm::on(const action::GetBalloonStats&) {
  if (!config_.balloon) return fail(EINVAL, kNoBalloon);
  if (config_.balloon->stats_polling_interval_s == 0)
    return fail(EINVAL, "balloon statistics are not enabled (stats_polling_interval_s is 0)");
  auto* b = machine_ ? machine_->balloon() : nullptr;
  if (!b) return fail(EINVAL, "balloon statistics: the VM is not started");
  return b->statistics();
}

}  // namespace vessel::vmm
