#include "vmm/devices/virtio/net/virtio_net.h"

#include <linux/if_tun.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "vmm/devices/virtio/mmio/mmio_transport.h"
#include "vmm/devices/virtio/net/backend_choice.h"
#include "vmm/devices/virtio/net/vhost_logic.h"

namespace vessel::vmm::virtio {
namespace net {
namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

std::optional<std::chrono::steady_clock::time_point> wake_of(const std::optional<RateLimiter>& l) {
  if (!l) return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(l->wake_at_ns()));
}

}  // namespace

unsigned tun_offload_flags(uint64_t f) {
  if (!(f & kFeatureGuestCsum)) return 0;  // the tap refuses segmentation without checksum offload
  unsigned flags = TUN_F_CSUM;
  if (f & kFeatureGuestTso4) flags |= TUN_F_TSO4;
  if (f & kFeatureGuestTso6) flags |= TUN_F_TSO6;
  if (f & kFeatureGuestUfo) flags |= TUN_F_UFO;
  return flags;
}

std::array<uint8_t, 6> generated_mac(const std::string& iface_id,
                                     const std::string& host_dev_name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : iface_id + '/' + host_dev_name)
    h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  std::array<uint8_t, 6> mac{0x06};  // locally administered, unicast
  for (size_t i = 1; i < mac.size(); ++i) mac[i] = static_cast<uint8_t>(h >> (8 * i));
  return mac;
}

std::array<uint8_t, kConfigSize> config_space(const NetConfig& config) {
  std::array<uint8_t, kConfigSize> space{};
  auto mac = config.mac.value_or(generated_mac(config.iface_id, config.host_dev_name));
  std::memcpy(space.data(), mac.data(), mac.size());
  uint16_t status = kStatusLinkUp, pairs = 1;
  std::memcpy(space.data() + 6, &status, 2);
  std::memcpy(space.data() + 8, &pairs, 2);
  return space;
}

NetLogic::NetLogic(const NetConfig& config, Tap tap, const GuestMemory* memory)
    : iface_id_(config.iface_id),
      tap_(std::move(tap)),
      memory_(memory),
      queue_size_(config.queue_size),
      rx_frame_(kMaxFrameWithHeader) {
  features_ = kNetFeatures;
  config_ = config_space(config);
  (void)set_rate_limiter("rx_rate_limiter", config.rx_rate_limiter);
  (void)set_rate_limiter("tx_rate_limiter", config.tx_rate_limiter);
}

void NetLogic::read_config(uint64_t offset, std::span<uint8_t> data) const {
  read_config_bytes(config_, offset, data);
}

void NetLogic::activate(uint64_t driver_features) {
  driver_features_ = driver_features;
  offload_pending_ = true;
  rx_starved_ = false;
}

void NetLogic::apply_offload(DeviceCounters& counters) {
  offload_pending_ = false;
  if (auto r = tap_.set_offload(tun_offload_flags(driver_features_)); !r) {
    counters.backend_errors++;
    log::warn("virtio-net {}: {}", iface_id_, r.error().to_string());
  }
}

bool NetLogic::backend_wanted() const { return !rx_starved_ && rx_len_ == 0; }

std::optional<std::chrono::steady_clock::time_point> NetLogic::retry_at() const {
  // Only while a frame is held; a wake time already past means "now" (the bucket may refill
  // before the device thread gets here, and nothing else would wake it for a held tx chain).
  auto rx = rx_len_ > 0 && !rx_paid_ ? wake_of(rx_limiter_) : std::nullopt;
  auto tx = tx_held_ ? wake_of(tx_limiter_) : std::nullopt;
  if (rx && tx) return std::min(*rx, *tx);
  return rx ? rx : tx;
}

Result<void> NetLogic::set_rate_limiter(std::string_view which,
                                        const std::optional<RateLimiterConfig>& config) {
  bool rx = which == "rx_rate_limiter";
  if (!rx && which != "tx_rate_limiter") return fail(EINVAL, "virtio-net has no {}", which);
  auto& limiter = rx ? rx_limiter_ : tx_limiter_;
  if (config)
    limiter.emplace(*config, now_ns());
  else
    limiter.reset();
  std::lock_guard lock(config_mu_);
  (rx ? rx_limiter_config_ : tx_limiter_config_) = config;
  return {};
}

QueueResult<size_t> NetLogic::process(uint16_t index, Virtqueue& queue, size_t budget,
                                      DeviceCounters& counters) {
  if (offload_pending_) apply_offload(counters);
  if (index == kTxQueue) return process_tx(queue, budget, counters);
  if (index == kRxQueue) return process_rx(queue, budget, counters);
  return 0;
}

QueueResult<size_t> NetLogic::process_tx(Virtqueue& queue, size_t budget,
                                         DeviceCounters& counters) {
  tx_held_ = false;
  size_t done = 0;
  while (done < budget) {
    auto popped = queue.pop();
    if (!popped) return tl::unexpected<QueueFault>(popped.error());
    if (!*popped) break;
    auto& [head, chain] = **popped;
    if (!chain) {
      counters.count(chain.error().kind);
      (void)queue.complete(head, 0);
      ++done;
      continue;
    }
    auto frame = parse_tx(*memory_, *chain, driver_features_);
    if (!frame) {
      counters.count(GuestErrorKind::BadRequest);
      tx_refused_[static_cast<size_t>(frame.error().kind)]++;
      log::debug("virtio-net {}: tx frame refused: {}", iface_id_, frame.error().message);
      (void)queue.complete(head, 0);
      ++done;
      continue;
    }
    if (tx_limiter_ && !tx_limiter_->consume(frame->frame_len, now_ns())) {
      // Over the rate: the chain goes back to the ring; retry_at() says when to try again.
      queue.undo_pop();
      tx_held_ = true;
      tx_.throttled++;
      break;
    }
    std::vector<iovec> iov;
    iov.reserve(frame->payload.size() + 1);
    iov.push_back({&frame->header, kHeaderSize});  // the checked host copy, not guest memory
    iov.insert(iov.end(), frame->payload.begin(), frame->payload.end());
    auto written = tap_.write(iov);
    if (!written) {
      counters.backend_errors++;
      tx_.dropped++;
      log::debug("virtio-net {}: {}", iface_id_, written.error().to_string());
    } else if (!*written) {
      tx_.dropped++;  // the tap's queue is full (EAGAIN): dropped, as a full NIC would
    } else {
      tx_.frames++;
      tx_.bytes += frame->frame_len;
    }
    (void)queue.complete(head, 0);
    ++done;
  }
  return done;
}

bool NetLogic::read_frame(DeviceCounters& counters) {
  auto n = tap_.read(rx_frame_);
  if (!n) {
    counters.backend_errors++;
    log::debug("virtio-net {}: {}", iface_id_, n.error().to_string());
    return false;
  }
  if (!*n) return false;  // EAGAIN
  if (**n == 0) {
    tap_dead_ = true;
    log::warn("virtio-net {}: the tap's other end is gone", iface_id_);
    return false;
  }
  // A runt ends the batch like an empty tap (the tap, still readable, wakes the thread again),
  // so a flood of them cannot hold the device thread.
  if (**n < kHeaderSize + kEthHeaderSize) {
    rx_.dropped++;
    return false;
  }
  rx_len_ = static_cast<uint32_t>(**n);
  rx_paid_ = false;
  return true;
}

QueueResult<NetLogic::Delivery> NetLogic::deliver(Virtqueue& queue, DeviceCounters& counters,
                                                  size_t& completed) {
  bool merge = driver_features_ & kFeatureMrgRxbuf;
  std::vector<std::pair<uint16_t, uint32_t>> used;  // head, bytes written
  uint32_t offset = 0;
  std::optional<RxBuffer> first;
  auto give_back = [&](size_t extra) {
    for (size_t i = 0; i < used.size() + extra; ++i) queue.undo_pop();
  };
  while (offset < rx_len_) {
    auto popped = queue.pop();
    if (!popped) return tl::unexpected<QueueFault>(popped.error());
    if (!*popped) {
      give_back(0);
      return Delivery::Starved;
    }
    auto& [head, chain] = **popped;
    Result<RxBuffer> rx =
        chain ? parse_rx(*memory_, *chain) : fail(EINVAL, "{}", chain.error().message);
    if (!rx) {
      if (!used.empty()) {
        // Chains already taken for this frame must go back untouched, so this one goes back too
        // and is answered first next time; the frame is lost to the guest's mistake.
        give_back(1);
        rx_.dropped++;
        return Delivery::Dropped;
      }
      chain ? counters.count(GuestErrorKind::BadRequest) : counters.count(chain.error().kind);
      rx_bad_buffers_++;
      (void)queue.complete(head, 0);
      ++completed;
      continue;
    }
    // Without mergeable buffers the frame must fit one chain; with them, it cannot need more
    // chains than the ring holds.
    if ((!merge && rx->capacity < rx_len_) || used.size() >= queue.layout().size) {
      give_back(1);
      rx_.dropped++;
      return Delivery::Dropped;
    }
    uint32_t n = copy_to_buffers(*rx, 0, rx_frame_.data() + offset, rx_len_ - offset);
    used.emplace_back(head, n);
    if (!first) first = std::move(*rx);
    offset += n;
  }
  // num_buffers (the header's last field, in the first chain, which holds the whole header)
  // says how many chains the frame took; then the chains go to the used ring in order.
  uint16_t num_buffers = static_cast<uint16_t>(used.size());
  copy_to_buffers(*first, offsetof(NetHeader, num_buffers),
                  reinterpret_cast<const uint8_t*>(&num_buffers), 2);
  for (const auto& [head, len] : used) (void)queue.complete(head, len);
  completed += used.size();
  return Delivery::Delivered;
}

QueueResult<size_t> NetLogic::process_rx(Virtqueue& queue, size_t budget,
                                         DeviceCounters& counters) {
  rx_starved_ = false;
  size_t done = 0;
  // Frames dropped complete no chain: count them against the budget too, so a tap flood of
  // undeliverable frames still ends the batch (the readable tap wakes the thread again).
  for (size_t frames = 0; done < budget && frames < budget; ++frames) {
    if (rx_len_ == 0 && !read_frame(counters)) break;
    if (!rx_paid_) {
      if (rx_limiter_ && !rx_limiter_->consume(rx_len_ - kHeaderSize, now_ns())) {
        rx_.throttled++;
        break;  // the frame waits in rx_frame_ until retry_at()
      }
      rx_paid_ = true;
    }
    auto delivered = deliver(queue, counters, done);
    if (!delivered) return tl::unexpected<QueueFault>(delivered.error());
    Delivery d = *delivered;
    if (d == Delivery::Starved) {
      rx_starved_ = true;
      break;
    }
    if (d == Delivery::Delivered) {
      rx_.frames++;
      rx_.bytes += rx_len_ - kHeaderSize;
    }
    rx_len_ = 0;
  }
  return done;
}

void NetLogic::add_metrics(json::Json& out) const {
  out["id"] = iface_id_;
  out["host_dev_name"] = tap_.name();
  out["backend"] = "userspace";
  auto dir = [](const Direction& d) {
    return json::Json{{"bytes", d.bytes.load()},
                      {"frames", d.frames.load()},
                      {"dropped", d.dropped.load()},
                      {"throttled", d.throttled.load()}};
  };
  out["rx"] = dir(rx_);
  out["rx"]["bad_buffers"] = rx_bad_buffers_.load();
  out["tx"] = dir(tx_);
  json::Json refused = json::Json::object();
  for (size_t i = 0; i < tx_refused_.size(); ++i)
    refused[tx_error_name(static_cast<TxErrorKind>(i))] = tx_refused_[i].load();
  out["tx"]["refused"] = std::move(refused);
  std::lock_guard lock(config_mu_);
  if (rx_limiter_config_) out["rx_rate_limiter"] = to_json(*rx_limiter_config_);
  if (tx_limiter_config_) out["tx_rate_limiter"] = to_json(*tx_limiter_config_);
}

}  // namespace net

namespace {

Result<void> check_queue_size(const NetConfig& config) {
  uint16_t qs = config.queue_size;
  if (qs < 4 || (qs & (qs - 1)) != 0 || qs > kMaxQueueSize)
    return fail(EINVAL, "virtio-net {}: queue size {} is not a power of two in [4, {}]",
                config.iface_id, qs, kMaxQueueSize);
  return {};
}

}  // namespace

Result<std::shared_ptr<VirtioMmioDevice>> create_net_with_tap(const NetConfig& config, net::Tap tap,
                                                              DeviceContext ctx) {
  TRY(check_queue_size(config));
  auto logic = std::make_unique<net::NetLogic>(config, std::move(tap), ctx.memory);
  auto dev = TRY(MmioTransport::create(std::move(logic), std::move(ctx), net::kBudget));
  return std::shared_ptr<VirtioMmioDevice>(std::move(dev));
}

Result<std::shared_ptr<VirtioMmioDevice>> create_net(const NetConfig& config, DeviceContext ctx) {
  TRY(check_queue_size(config));
  auto tap = TRY_CTX(net::Tap::open(config.host_dev_name), "network interface {}: host_dev_name",
                     config.iface_id);
  std::optional<net::VhostNet> vhost;
  auto choice = TRY_CTX(net::choose_backend(config.vhost, config.rx_rate_limiter || config.tx_rate_limiter,
                                            [&]() -> Result<void> {
                                              vhost = TRY(net::VhostNet::open());
                                              return {};
                                            }),
                        "network interface {}", config.iface_id);
  if (choice.backend == net::NetBackend::Userspace) {
    log::info("virtio-net {}: userspace backend ({})", config.iface_id, choice.reason);
    return create_net_with_tap(config, std::move(tap), std::move(ctx));
  }
  const char* irq_env = std::getenv("VESSEL_VHOST_IRQ");
  auto irq = TRY(net::parse_vhost_irq(irq_env ? irq_env : ""));
  auto logic = net::VhostNetLogic::create(config, std::move(tap), std::move(*vhost), ctx.memory, irq,
                                          ctx.irq ? ctx.irq->irqfd() : -1);
  if (!logic) {
    // Opened, yet unusable (an old kernel, a refused memory table): On says so, Auto falls back.
    if (config.vhost == VhostMode::On)
      return Unexpected(std::move(logic).error().add_context(
          fmt::format("network interface {}: vhost is on, but vhost-net cannot be used", config.iface_id)));
    log::info("virtio-net {}: userspace backend (vhost-net: {})", config.iface_id, logic.error().to_string());
    tap = TRY_CTX(net::Tap::open(config.host_dev_name), "network interface {}: host_dev_name", config.iface_id);
    return create_net_with_tap(config, std::move(tap), std::move(ctx));
  }
  log::info("virtio-net {}: vhost-net backend (the host kernel serves the rings; interrupts: {})", config.iface_id,
            net::to_string(irq));
  auto dev = TRY(MmioTransport::create(std::move(*logic), std::move(ctx), net::kBudget));
  return std::shared_ptr<VirtioMmioDevice>(std::move(dev));
}

}  // namespace vessel::vmm::virtio
