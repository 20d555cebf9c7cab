// MmioTransport's snapshot side (docs/vmm/snapshot.md): the transport's registers and each
// queue's position out of a paused device, and back into a new one before its driver runs.
#include "vmm/devices/virtio/mmio/mmio_transport.h"

namespace vessel::vmm::virtio {

Result<snapshot::VirtioState> MmioTransport::save_state() const {
  {
    std::lock_guard lock(pause_mu_);
    if (!paused_) return fail(EBUSY, "{} at {:#x}: save_state on a running device", logic_->name(), ctx_.mmio_base);
  }
  std::lock_guard lock(mu_);
  snapshot::VirtioState st;
  st.device_type = logic_->device_type();
  st.mmio_base = ctx_.mmio_base;
  st.status = status_.load();
  st.interrupt_status = interrupt_status_.load();
  st.config_generation = config_generation_.load();
  st.features_sel = features_sel_;
  st.driver_features_sel = driver_features_sel_;
  st.queue_sel = queue_sel_;
  st.driver_features = driver_features_;
  for (size_t i = 0; i < queues_.size(); ++i) {
    const auto& q = queues_[i];
    auto pos = q.queue.position();
    if (q.ready && logic_->kernel_served()) pos = kernel_position(static_cast<uint16_t>(i), q.layout);
    st.queues.push_back({q.size, q.ready, q.layout.desc, q.layout.avail, q.layout.used, pos.next_avail, pos.next_used,
                         pos.signalled_used});
  }
  return st;
}

// A kernel-served queue's position is the kernel's, not our Virtqueue's (which never walked it):
// the next available index it read back at the pause, and the used index it published in guest
// memory (the ring was checked when it became ready).
Virtqueue::Position MmioTransport::kernel_position(uint16_t index, const QueueLayout& layout) const {
  Virtqueue::Position pos;
  pos.next_avail = logic_->kernel_next_avail(index).value_or(0);
  auto used_idx = ctx_.memory->read_obj<uint16_t>(layout.used + 2);
  pos.next_used = used_idx ? *used_idx : pos.next_avail;
  pos.signalled_used = pos.next_used;
  return pos;
}

Result<snapshot::DeviceExtra> MmioTransport::save_extra() const {
  {
    std::lock_guard lock(pause_mu_);
    if (!paused_) return fail(EBUSY, "{} at {:#x}: save_extra on a running device", logic_->name(), ctx_.mmio_base);
  }
  std::lock_guard lock(mu_);
  snapshot::DeviceExtra extra = logic_->save_extra();
  std::visit(
      [&](auto& e) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(e)>, std::monostate>) e.mmio_base = ctx_.mmio_base;
      },
      extra);
  return extra;
}

Result<void> MmioTransport::restore_extra(const snapshot::DeviceExtra& extra) {
  uint64_t base = std::visit(
      [&](const auto& e) -> uint64_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(e)>, std::monostate>) return ctx_.mmio_base;
        else return e.mmio_base;
      },
      extra);
  if (base != ctx_.mmio_base)
    return fail(EINVAL, "{} at {:#x}: the snapshot's state is for the device at {:#x}", logic_->name(), ctx_.mmio_base,
                base);
  std::lock_guard lock(mu_);
  TRY_CTX(logic_->restore_extra(extra), "{} at {:#x}", logic_->name(), ctx_.mmio_base);
  return {};
}

Result<void> MmioTransport::restore_state(const snapshot::VirtioState& st) {
  std::lock_guard lock(mu_);
  if (st.device_type != logic_->device_type() || st.mmio_base != ctx_.mmio_base)
    return fail(EINVAL, "virtio device at {:#x}: the snapshot has device type {} at {:#x}, this VM type {}",
                ctx_.mmio_base, st.device_type, st.mmio_base, logic_->device_type());
  if (st.queues.size() != queues_.size())
    return fail(EINVAL, "{} at {:#x}: the snapshot has {} queues, the device {}", logic_->name(), ctx_.mmio_base,
                st.queues.size(), queues_.size());
  if (st.driver_features & ~logic_->features())
    return fail(EINVAL, "{} at {:#x}: the snapshot's driver features {:#x} were not offered ({:#x})", logic_->name(),
                ctx_.mmio_base, st.driver_features, logic_->features());
  features_sel_ = st.features_sel;
  driver_features_sel_ = st.driver_features_sel;
  queue_sel_ = st.queue_sel;
  driver_features_ = st.driver_features;
  for (size_t i = 0; i < queues_.size(); ++i) {
    const auto& saved = st.queues[i];
    QueueConfig& q = queues_[i];
    q = QueueConfig{};
    q.size = saved.size;
    q.layout = {saved.size, saved.desc, saved.avail, saved.used};
    if (!saved.ready) continue;
    if (auto ok = validate_layout(*ctx_.memory, q.layout, logic_->max_queue_size()); !ok)
      return fail(EINVAL, "{} at {:#x}: queue {}: {}", logic_->name(), ctx_.mmio_base, i, ok.error().message);
    q.queue = Virtqueue(ctx_.memory, q.layout, driver_features_ & kFeatureIndirectDesc,
                        driver_features_ & kFeatureEventIdx);
    q.queue.set_position({saved.next_avail, saved.next_used, saved.signalled_used});
    q.ready = true;
    register_doorbell(static_cast<uint16_t>(i));
  }
  status_.store(st.status);
  interrupt_status_.store(st.interrupt_status);
  config_generation_.store(st.config_generation);
  if ((st.status & status::kDriverOk) && !(st.status & status::kNeedsReset)) {
    logic_->activate(driver_features_);
    std::vector<const Virtqueue*> ready(queues_.size(), nullptr);
    for (size_t i = 0; i < queues_.size(); ++i)
      if (queues_[i].ready) ready[i] = &queues_[i].queue;
    logic_->restored(ready);
  }
  (void)notify_.signal();  // serve what the driver queued before the snapshot
  return {};
}

}  // namespace vessel::vmm::virtio
