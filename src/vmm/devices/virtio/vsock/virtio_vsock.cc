// virtio-vsock (virtio 1.2, section 5.10) with Firecracker's host side: guest streams are Unix
// socket streams (vsock_muxer.h). Queues: 0 rx (device -> guest), 1 tx (guest -> device), 2 event
// (used once, after a snapshot is loaded: the transport reset, vsock_event.h). Every tx packet is
// parsed and validated (vsock_packet.h) before the muxer acts on it.
//
// Waking: the device thread polls the muxer's epoll fd (listener and streams) as the backend fd,
// only while the rx queue had buffers; the muxer's own replies (RESPONSE, RST, credit updates)
// that tx processing produced after the rx queue was served are sent at once through retry_at()
// returning now. With no rx buffer left, the device waits for the driver's next rx doorbell.
#include <sys/epoll.h>

#include <atomic>

#include "base/log.h"
#include "base/unix_socket.h"
#include "vmm/devices/virtio/mmio/mmio_transport.h"
#include "vmm/devices/virtio/virtio_devices.h"
#include "vmm/devices/virtio/vsock/vsock_event.h"
#include "vmm/devices/virtio/vsock/vsock_muxer.h"
#include "vmm/devices/virtio/vsock/vsock_packet.h"

namespace vessel::vmm::virtio {
namespace {

inline constexpr uint32_t kDeviceTypeVsock = 19;
inline constexpr uint16_t kQueueSize = 256;
inline constexpr size_t kBudget = 64;
inline constexpr uint16_t kRxQueue = 0, kTxQueue = 1;
inline constexpr std::chrono::milliseconds kResetHold{2000};  // host connects after a load wait at most this

class VsockLogic final : public DeviceLogic {
 public:
  VsockLogic(const GuestMemory* memory, VsockConfig config, std::unique_ptr<vsock::Muxer> muxer)
      : memory_(memory), config_(std::move(config)), muxer_(std::move(muxer)) {}
  // The socket file stays after the VMM (as Firecracker's does): the next start replaces it.
  const char* name() const override { return "virtio-vsock"; }
  uint32_t device_type() const override { return kDeviceTypeVsock; }
  uint64_t features() const override { return kFeatureVersion1 | kFeatureIndirectDesc; }
  uint16_t num_queues() const override { return 3; }
  uint16_t max_queue_size() const override { return kQueueSize; }
  sandbox::ThreadKind thread_kind() const override { return sandbox::ThreadKind::VirtioVsock; }

  // struct virtio_vsock_config { le64 guest_cid; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override {
    for (size_t i = 0; i < data.size(); ++i) {
      uint64_t at = offset + i;
      data[i] = at < 8 ? uint8_t(config_.guest_cid >> (8 * at)) : 0;
    }
  }
  // A (re)started driver knows no stream: drop them all. activate() runs on the vCPU thread,
  // whose seccomp list has no close(2): the device thread does it before anything else.
  void activate(uint64_t) override {
    reset_pending_ = true;
    starved_ = false;
    rx_work_ = false;
  }

  QueueResult<size_t> process(uint16_t index, Virtqueue& queue, size_t budget,
                              DeviceCounters& counters) override {
    if (reset_pending_.exchange(false)) muxer_->reset();
    QueueResult<size_t> done = 0;
    if (index == kRxQueue) done = fill_rx(queue, budget, counters);
    if (index == kTxQueue) done = drain_tx(queue, budget, counters);
    if (index == vsock::kEventQueue) {
      if (transport_reset_pending_) done = send_reset(queue, counters);
      else if (holding_host_) end_hold_if_heard(queue);
    }
    if (holding_host_ && std::chrono::steady_clock::now() >= hold_until_) {
      holding_host_ = false;
      log::warn("virtio-vsock: the driver did not take the transport reset within {} ms; host connects go on",
                kResetHold.count());
    }
    rx_work_ = muxer_->has_rx_work();
    auto deadline = muxer_->next_deadline();
    deadline_ns_ = deadline ? deadline->time_since_epoch().count() : 0;
    return done;
  }

  std::optional<std::chrono::steady_clock::time_point> retry_at() const override {
    auto at = work_at();
    // After a load, the hold on host connects ends then at the latest.
    if (holding_host_ && (!at || hold_until_ < *at)) at = hold_until_;
    return at;
  }
  int backend_fd() const override { return muxer_->epoll_fd(); }
  // After a driver reset the old streams still wake the thread: process() then drops them.
  bool backend_wanted() const override { return !starved_.load() && !holding_host_; }

  // Snapshots: no host connection survives one (the new process has none), so the restored
  // driver hears of a transport reset and drops its connected sockets.
  snapshot::DeviceExtra save_extra() const override {
    return snapshot::VsockState{0, config_.guest_cid, config_.uds_path};
  }
  Result<void> restore_extra(const snapshot::DeviceExtra& extra) override {
    const auto* saved = std::get_if<snapshot::VsockState>(&extra);
    if (!saved) return DeviceLogic::restore_extra(extra);
    if (saved->guest_cid != config_.guest_cid || saved->uds_path != config_.uds_path)
      return fail(EINVAL, "the snapshot's vsock device (guest_cid {}, uds_path {}) differs from its configuration ({}, {})",
                  saved->guest_cid, saved->uds_path, config_.guest_cid, config_.uds_path);
    return {};
  }
  // Host connects wait until the driver has taken the reset: one that reached the guest before
  // it would be reset with the old ones.
  void restored(std::span<const Virtqueue* const>) override {
    transport_reset_pending_ = true;
    holding_host_ = true;
    hold_until_ = std::chrono::steady_clock::now() + kResetHold;
  }
  // A driver that resets the device knows no stream and needs no event.
  void reset() override { transport_reset_pending_ = holding_host_ = false; }

  void add_metrics(json::Json& out) const override {
    out["guest_cid"] = config_.guest_cid;
    out["transport_resets"] = transport_resets_.load();
    out["uds_path"] = config_.uds_path;
    out["rx_packets"] = rx_packets_.load();
    out["tx_packets"] = tx_packets_.load();
    muxer_->add_metrics(out);
  }

 private:
  QueueResult<size_t> fill_rx(Virtqueue& queue, size_t budget, DeviceCounters& counters) {
    if (!holding_host_) muxer_->poll_host();
    muxer_->expire(std::chrono::steady_clock::now());
    starved_ = false;
    size_t done = 0;
    while (done < budget && muxer_->has_rx_work()) {
      auto popped = queue.pop();
      if (!popped) return tl::unexpected<QueueFault>(popped.error());
      if (!*popped) {
        starved_ = true;  // the driver's next rx doorbell brings buffers
        break;
      }
      auto& [head, chain] = **popped;
      if (!chain) {
        counters.count(chain.error().kind);
        (void)queue.complete(head, 0);
        ++done;
        continue;
      }
      auto rx = vsock::parse_rx(*memory_, *chain);
      if (!rx) {
        counters.count(GuestErrorKind::BadRequest);
        (void)queue.complete(head, 0);
        ++done;
        continue;
      }
      auto n = muxer_->fill_rx(*rx);
      if (!n) {
        queue.undo_pop();
        // Work remains that this buffer could not carry (a buffer with room for a header only):
        // wait for the driver rather than spin on it.
        if (muxer_->has_rx_work()) starved_ = true;
        break;
      }
      (void)queue.complete(head, *n);
      rx_packets_++;
      ++done;
    }
    return done;
  }

  QueueResult<size_t> drain_tx(Virtqueue& queue, size_t budget, DeviceCounters& counters) {
    size_t done = 0;
    // Replies to tx packets wait for rx buffers: while too many wait, the tx ring waits too.
    while (done < budget && muxer_->can_take_tx()) {
      auto popped = queue.pop();
      if (!popped) return tl::unexpected<QueueFault>(popped.error());
      if (!*popped) break;
      auto& [head, chain] = **popped;
      ++done;
      tx_packets_++;
      if (!chain) {
        counters.count(chain.error().kind);
      } else if (auto packet = vsock::parse_tx(*memory_, *chain, config_.guest_cid); !packet) {
        counters.count(GuestErrorKind::BadRequest);
        muxer_->on_bad_packet(packet.error());
      } else {
        muxer_->on_guest_packet(*packet);
      }
      (void)queue.complete(head, 0);
    }
    return done;
  }

  std::optional<std::chrono::steady_clock::time_point> work_at() const {
    if (!starved_.load() && rx_work_.load()) return std::chrono::steady_clock::now();
    // A host connect waiting for the guest's answer times out then (even without rx buffers).
    if (int64_t ns = deadline_ns_.load(); ns != 0)
      return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(ns));
    return std::nullopt;
  }

  QueueResult<size_t> send_reset(Virtqueue& queue, DeviceCounters& counters) {
    auto sent = vsock::send_transport_reset(*memory_, queue, counters);
    if (!sent) return tl::unexpected<QueueFault>(sent.error());
    if (!*sent) return 0;  // no event buffer yet: the driver's next doorbell brings one
    transport_reset_pending_ = false;
    transport_resets_++;
    reset_seen_avail_ = avail_idx(queue);
    return 1;
  }
  // The driver gives an event buffer back once it has handled the event in it (Linux: after
  // resetting every connected socket): the event ring's available index moves on.
  void end_hold_if_heard(const Virtqueue& queue) {
    auto idx = avail_idx(queue);
    if (idx && reset_seen_avail_ && *idx != *reset_seen_avail_) holding_host_ = false;
  }
  std::optional<uint16_t> avail_idx(const Virtqueue& queue) const {
    auto idx = memory_->read_obj<uint16_t>(queue.layout().avail + 2);
    return idx ? std::optional<uint16_t>(*idx) : std::nullopt;
  }

  const GuestMemory* memory_;
  VsockConfig config_;
  std::unique_ptr<vsock::Muxer> muxer_;
  std::atomic<bool> starved_{false}, rx_work_{false}, reset_pending_{false};
  // Under the transport lock: the reset to send, and host connects held back until the driver
  // took it (or kResetHold passed).
  bool transport_reset_pending_ = false, holding_host_ = false;
  std::chrono::steady_clock::time_point hold_until_{};
  std::optional<uint16_t> reset_seen_avail_;
  std::atomic<int64_t> deadline_ns_{0};  // next host-connect timeout (steady clock), 0: none
  std::atomic<uint64_t> rx_packets_{0}, tx_packets_{0}, transport_resets_{0};
};

}  // namespace

Result<void> validate_vsock_config(const VsockConfig& config) {
  if (config.guest_cid < 3 || config.guest_cid > UINT32_MAX)
    return fail(EINVAL, "guest_cid {}: must be between 3 and 4294967295", config.guest_cid);
  // Guest connections go to "<uds_path>_<port>": room for the longest port in sun_path (108).
  if (config.uds_path.empty() || config.uds_path.size() + 11 > 107)
    return fail(EINVAL, "uds_path: must be 1..96 characters (sockets \"<uds_path>_<port>\" must fit)");
  return {};
}

Result<std::shared_ptr<VirtioMmioDevice>> create_vsock(const VsockConfig& config, DeviceContext ctx) {
  TRY(validate_vsock_config(config));
  auto listener = TRY_CTX(unix_socket::listen(config.uds_path, {.mode = 0600, .backlog = 128, .nonblocking = true}),
                          "virtio-vsock");
  auto muxer = TRY(vsock::Muxer::create({config.guest_cid, config.uds_path, 256}, std::move(listener)));
  auto logic = std::make_unique<VsockLogic>(ctx.memory, config, std::move(muxer));
  auto dev = TRY(MmioTransport::create(std::move(logic), std::move(ctx), kBudget));
  return std::shared_ptr<VirtioMmioDevice>(std::move(dev));
}

}  // namespace vessel::vmm::virtio
