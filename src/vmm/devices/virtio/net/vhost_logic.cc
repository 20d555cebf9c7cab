#include "vmm/devices/virtio/net/vhost_logic.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "base/log.h"
#include "vmm/devices/virtio/net/backend_choice.h"

namespace vessel::vmm::virtio::net {

Result<VhostIrq> parse_vhost_irq(std::string_view text) {
  if (text.empty() || text == "relay") return VhostIrq::Relay;
  if (text == "irqfd") return VhostIrq::Irqfd;
  if (text == "irqfd-status") return VhostIrq::IrqfdStatus;
  return fail(EINVAL, "VESSEL_VHOST_IRQ: '{}' is not relay, irqfd or irqfd-status", text);
}

const char* to_string(VhostIrq mode) {
  switch (mode) {
    case VhostIrq::Relay:
      return "relay";
    case VhostIrq::Irqfd:
      return "irqfd";
    case VhostIrq::IrqfdStatus:
      return "irqfd-status";
  }
  return "?";
}

Result<std::unique_ptr<VhostNetLogic>> VhostNetLogic::create(const NetConfig& config, Tap tap,
                                                             VhostNet vhost,
                                                             const GuestMemory* memory,
                                                             VhostIrq irq, int irqfd) {
  if (irq != VhostIrq::Relay && irqfd < 0)
    return fail(EINVAL, "VESSEL_VHOST_IRQ={} needs a KVM irqfd", to_string(irq));
  uint64_t vhost_features = TRY(vhost.get_features());
  if (!(vhost_features & kFeatureVersion1))
    return fail(ENOTSUP, "this kernel's vhost-net lacks VIRTIO_F_VERSION_1 (features {:#x})",
                vhost_features);
  std::vector<VhostMemoryRegion> regions;
  for (const auto& r : memory->regions())
    regions.push_back({r.guest_base, r.size, reinterpret_cast<uint64_t>(r.host)});
  TRY(vhost.set_mem_table(regions));
  std::array<EventFd, 2> kick{TRY(EventFd::create(0, EFD_NONBLOCK)),
                              TRY(EventFd::create(0, EFD_NONBLOCK))};
  EventFd call = TRY(EventFd::create(0, EFD_NONBLOCK));
  EventFd err = TRY(EventFd::create(0, EFD_NONBLOCK));
  Fd events(::epoll_create1(EPOLL_CLOEXEC));
  if (!events) return fail_errno("epoll_create1 for vhost-net's eventfds");
  for (int fd : {call.fd(), err.fd()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(events.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
      return fail_errno("epoll_ctl ADD {}", fd);
  }
  auto logic = std::unique_ptr<VhostNetLogic>(
      new VhostNetLogic(config, std::move(tap), std::move(vhost), memory, vhost_features,
                        std::move(kick), std::move(call), std::move(err), std::move(events)));
  logic->irq_mode_ = irq;
  logic->irqfd_ = irqfd;
  return logic;
}

VhostNetLogic::VhostNetLogic(const NetConfig& config, Tap tap, VhostNet vhost,
                             const GuestMemory* memory, uint64_t vhost_features,
                             std::array<EventFd, 2> kick, EventFd call, EventFd err, Fd events)
    : iface_id_(config.iface_id),
      tap_(std::move(tap)),
      vhost_(std::move(vhost)),
      memory_(memory),
      queue_size_(config.queue_size),
      vhost_features_(vhost_features),
      features_(vhost_offered_features(vhost_features)),
      config_(config_space(config)),
      kick_(std::move(kick)),
      call_(std::move(call)),
      err_(std::move(err)),
      events_(std::move(events)) {}

void VhostNetLogic::read_config(uint64_t offset, std::span<uint8_t> data) const {
  read_config_bytes(config_, offset, data);
}

void VhostNetLogic::activate(uint64_t driver_features) {
  driver_features_ = driver_features;
  start_pending_ = true;
  offload_pending_ = true;
  base_ = {0, 0};  // new rings
}

Result<void> VhostNetLogic::start(std::span<const Virtqueue* const> queues) {
  if (queues.size() < 2 || !queues[kRxQueue] || !queues[kTxQueue])
    return fail(EINVAL, "the driver set DRIVER_OK without making both queues ready");
  TRY(vhost_.set_features(vhost_acked_features(driver_features_, vhost_features_)));
  bool event_idx = driver_features_ & kFeatureEventIdx;
  for (uint32_t i = 0; i < 2; ++i) {
    const QueueLayout& l = queues[i]->layout();
    // The transport checked these ranges (validate_layout) when the queue became ready; the
    // host addresses come from GuestMemory, never from the guest.
    uint64_t extra = event_idx ? 2 : 0;
    auto desc = TRY(memory_->slice(l.desc, 16ull * l.size));
    auto avail = TRY(memory_->slice(l.avail, 4 + 2ull * l.size + extra));
    auto used = TRY(memory_->slice(l.used, 4 + 8ull * l.size + extra));
    TRY(vhost_.set_vring_num(i, l.size));
    TRY(vhost_.set_vring_base(i, base_[i]));
    TRY(vhost_.set_vring_addr(
        i, {reinterpret_cast<uint64_t>(desc.data()), reinterpret_cast<uint64_t>(avail.data()),
            reinterpret_cast<uint64_t>(used.data())}));
    TRY(vhost_.set_vring_kick(i, kick_[i].fd()));
    TRY(vhost_.set_vring_call(i, irq_mode_ == VhostIrq::Relay ? call_.fd() : irqfd_));
    TRY(vhost_.set_vring_err(i, err_.fd()));
  }
  running_ = true;  // from here on drain() must stop it, even if a backend below fails
  sticky_status_ = irq_mode_ == VhostIrq::IrqfdStatus;
  for (uint32_t i = 0; i < 2; ++i) TRY(vhost_.set_backend(i, tap_.fd()));
  // A doorbell the driver rang before the kernel had the tap found no backend: ring it again.
  for (auto& kick : kick_) (void)kick.signal();
  return {};
}

void VhostNetLogic::drain() {
  if (!running_) return;
  running_ = false;
  sticky_status_ = false;
  for (uint32_t i = 0; i < 2; ++i) {
    if (auto r = vhost_.set_backend(i, -1); !r)
      log::warn("virtio-net {} (vhost): {}", iface_id_, r.error().to_string());
    auto base = vhost_.get_vring_base(i);
    if (base)
      base_[i] = static_cast<uint16_t>(*base);
    else
      log::warn("virtio-net {} (vhost): {}", iface_id_, base.error().to_string());
  }
  stops_++;
  start_pending_ = true;  // a pause: resume where the kernel left off (a reset clears this)
}

bool VhostNetLogic::serve_kernel(std::span<const Virtqueue* const> queues,
                                 DeviceCounters& counters) {
  if (offload_pending_) {
    offload_pending_ = false;
    if (auto r = tap_.set_offload(tun_offload_flags(driver_features_)); !r) {
      counters.backend_errors++;
      log::warn("virtio-net {}: {}", iface_id_, r.error().to_string());
    }
  }
  if (start_pending_) {
    start_pending_ = false;
    if (auto r = start(queues); !r) {
      counters.backend_errors++;
      start_failures_++;
      log::error(
          "virtio-net {}: starting vhost-net failed, the interface is down until the driver resets "
          "it: {}",
          iface_id_, r.error().to_string());
      drain();
      start_pending_ = false;
    } else {
      starts_++;
    }
  }
  if (auto errors = err_.consume(); errors && *errors) {
    uint64_t n = ring_errors_ += *errors;
    counters.count(GuestErrorKind::BadRequest);
    if (n <= 16 || (n & (n - 1)) == 0)
      log::warn(
          "virtio-net {}: vhost-net found a malformed ring or chain and stopped that queue ({} so "
          "far)",
          iface_id_, n);
  }
  auto calls = call_.consume();
  if (!calls || !*calls) return false;
  calls_ += *calls;
  return true;
}

Result<void> VhostNetLogic::set_rate_limiter(std::string_view which,
                                             const std::optional<RateLimiterConfig>& config) {
  if (!config) return {};  // nothing to remove
  return fail(
      ENOTSUP,
      "network interface {} uses vhost-net, which cannot apply a {} (configure \"vhost\": \"off\")",
      iface_id_, which);
}

void VhostNetLogic::add_metrics(json::Json& out) const {
  out["id"] = iface_id_;
  out["host_dev_name"] = tap_.name();
  out["backend"] = "vhost";
  out["vhost"] = json::Json{{"features", vhost_acked_features(driver_features_, vhost_features_)},
                            {"irq", to_string(irq_mode_)},
                            {"starts", starts_.load()},
                            {"stops", stops_.load()},
                            {"start_failures", start_failures_.load()},
                            {"ring_errors", ring_errors_.load()},
                            {"calls", calls_.load()}};
}

}  // namespace vessel::vmm::virtio::net
