// What a virtio device type (block, entropy) plugs into the virtio-mmio transport: its id,
// features, config space and the code that serves one queue on the device thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

#include "base/json.h"
#include "vmm/api/rate_limiter_config.h"
#include "vmm/devices/virtio/queue/virtqueue.h"
#include "vmm/snapshot/device_extra.h"
#include "vmm/sandbox/thread_filters.h"

namespace vessel::vmm::virtio {

inline constexpr uint64_t kFeatureVersion1 = 1ull << 32;
inline constexpr uint64_t kFeatureIndirectDesc = 1ull << 28;
inline constexpr uint64_t kFeatureEventIdx = 1ull << 29;  // Virtqueue's event_idx

// Counters shared by the transport and the device logic; written on the device thread (and the
// vCPU thread for register errors), read by metrics() from any thread.
struct DeviceCounters {
  std::array<std::atomic<uint64_t>, static_cast<size_t>(GuestErrorKind::Count)> guest_errors{};
  std::atomic<uint64_t> needs_reset{0};
  std::atomic<uint64_t> notifications{0};
  std::atomic<uint64_t> interrupts{0};
  std::atomic<uint64_t> feature_negotiation_failures{0};
  std::atomic<uint64_t> bad_register_accesses{0};
  std::atomic<uint64_t> backend_errors{0};  // host-side I/O failures (reported as IOERR)
  std::atomic<uint64_t> polled_batches{0};  // batches found by ring polling, not a doorbell

  void count(GuestErrorKind kind) { guest_errors[static_cast<size_t>(kind)]++; }
};

// For device logic that finishes requests on other threads (virtio-blk's I/O workers): the
// transport publishes the used element later, under its own lock, and interrupts the guest.
// A completion whose epoch is stale (the driver reset the device, or it entered NEEDS_RESET,
// since the request was popped) is dropped.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  // The current epoch; call it inside DeviceLogic::process (the transport lock is held).
  virtual uint64_t epoch() const = 0;
  // Any thread, without the transport lock.
  virtual void complete_async(uint16_t queue, uint64_t epoch, uint16_t head, uint32_t written) = 0;
  // The device's config space changed on the host's initiative (virtio-balloon's target): a new
  // config generation and, once the driver is running, a config-change interrupt. Any thread,
  // without the transport lock.
  virtual void config_changed() {}
  // Has the device thread run process() again (a new retry_at()). Any thread.
  virtual void wake() {}
};

// read_config() for a device whose config space is a fixed byte array: out of range reads zeros.
inline void read_config_bytes(std::span<const uint8_t> config, uint64_t offset,
                              std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t at = offset + i;
    data[i] = at < config.size() ? config[at] : 0;
  }
}

class DeviceLogic {
 public:
  virtual ~DeviceLogic() = default;
  virtual const char* name() const = 0;  // "virtio-blk"
  virtual uint32_t device_type() const = 0;
  virtual uint64_t features() const = 0;  // offered; includes VERSION_1
  virtual uint16_t num_queues() const = 0;
  virtual uint16_t max_queue_size() const = 0;
  // Reads take no lock: config space is immutable after creation, or (virtio-balloon) atomics.
  // Out of range: zeros.
  virtual void read_config(uint64_t offset, std::span<uint8_t> data) const = 0;
  // A driver's write to the config space (virtio-balloon's `actual`), on a vCPU thread without
  // the transport lock; most devices have no writable field and ignore it.
  virtual void write_config(uint64_t offset, std::span<const uint8_t> data) {
    (void)offset;
    (void)data;
  }
  // Called on DRIVER_OK with the negotiated features.
  virtual void activate(uint64_t driver_features) = 0;
  // Serves up to `budget` chains of queue `index`. Returns how many were completed, or a fault
  // when the ring is broken (the transport then enters NEEDS_RESET).
  virtual QueueResult<size_t> process(uint16_t index, Virtqueue& queue, size_t budget,
                                      DeviceCounters& counters) = 0;
  // Device-specific counters, merged into metrics().
  virtual void add_metrics(json::Json& out) const = 0;
  // Asynchronous devices: the transport hands itself over before the device thread starts.
  virtual void attach(CompletionSink* sink) { (void)sink; }
  // Returns once no request is in flight off the device thread (pause, teardown). Called
  // without the transport lock.
  virtual void drain() {}
  // False while the device has as many requests in flight as it allows: waiting chains are then
  // left in the ring (and ring polling does not spin on them).
  virtual bool can_accept() const { return true; }
  // When a device held requests back (a rate limiter), the time to process its queues again even
  // without a notification; none when nothing is held.
  virtual std::optional<std::chrono::steady_clock::time_point> retry_at() const { return std::nullopt; }
  // Devices whose host side produces work on its own (a tap's incoming frames, vsock's Unix
  // sockets): an fd the device thread polls next to the doorbell; when it is readable, process()
  // runs for every queue as after a notification. -1: none. Polled only while the driver has the
  // device running and backend_wanted() says so.
  virtual int backend_fd() const { return -1; }
  // False while the device cannot take backend work (no receive buffers): the fd is then not
  // polled, so a readable tap does not spin the thread; the driver's next notification (new
  // buffers) runs process(), which may want the backend again. Called under the transport lock.
  virtual bool backend_wanted() const { return true; }
  // The seccomp allowlist of the device thread (a device serving host sockets needs more).
  virtual sandbox::ThreadKind thread_kind() const { return sandbox::ThreadKind::Virtio; }
  // ---- Devices whose rings a host kernel serves (vhost-net, docs/vmm/net.md) ----
  // True for such a device: the transport never pops its queues. A device reset first has the
  // device thread call drain() (which stops the kernel: it must not touch guest memory once the
  // driver reads status 0 back), so does a pause and the end of the device thread; reset() then
  // tells the device to forget the queues until the next activate().
  virtual bool kernel_served() const { return false; }
  // The eventfd KVM signals when the driver writes `index` to QueueNotify (an ioeventfd with
  // that datamatch, registered when the queue becomes ready, replacing the transport's own
  // doorbell); -1: none.
  virtual int queue_kick_fd(uint16_t index) const {
    (void)index;
    return -1;
  }
  // On the device thread before each batch, under the transport lock, with every queue (nullptr
  // when not ready): starts the kernel after activate() or a pause, and reports whether the
  // kernel completed buffers since the last call (the transport then sets the used-buffer bit of
  // InterruptStatus and raises the interrupt).
  virtual bool serve_kernel(std::span<const Virtqueue* const> queues, DeviceCounters& counters) {
    (void)queues;
    (void)counters;
    return false;
  }
  // InterruptStatus bits the device reports on top of the transport's (read on vCPU threads,
  // without the lock): vhost-net's irqfd-status experiment (docs/vmm/net.md).
  virtual uint32_t interrupt_status_bits() const { return 0; }
  // The driver reset the device (after drain() on the device thread). Lock held.
  virtual void reset() {}
  // See VirtioMmioDevice::sync().
  virtual Result<void> sync() { return {}; }
  // See VirtioMmioDevice::hand_over_image() and take_over_image().
  virtual Result<void> hand_over_image(bool release) {
    (void)release;
    return {};
  }
  virtual Result<void> take_over_image() { return {}; }
  // ---- Snapshots (docs/vmm/snapshot.md) ----
  // The device's own state beyond the transport's (virtio-net, virtio-vsock); monostate: none.
  // Paused, under the transport lock; the transport fills in the MMIO window.
  virtual snapshot::DeviceExtra save_extra() const { return {}; }
  // Puts it back into a freshly built device, before the transport's state (so before
  // activate()). Checks it against the device's configuration.
  virtual Result<void> restore_extra(const snapshot::DeviceExtra& extra) {
    if (std::holds_alternative<std::monostate>(extra)) return {};
    return fail(EINVAL, "{}: the snapshot holds another device's state for it", name());
  }
  // A kernel-served device: where the kernel left queue `index` (its next available index, read
  // back when the pause stopped it). The transport saves it instead of its own stale position.
  virtual std::optional<uint16_t> kernel_next_avail(uint16_t index) const {
    (void)index;
    return std::nullopt;
  }
  // After the transport put a snapshot's state back and activate()d the device (lock held, every
  // queue, nullptr when not ready): vhost-net starts its kernel at the saved ring positions,
  // vsock tells the driver that its connections are gone.
  virtual void restored(std::span<const Virtqueue* const> queues) { (void)queues; }
  // See VirtioMmioDevice::set_rate_limiter(). Called under the transport lock.
  virtual Result<void> set_rate_limiter(std::string_view which, const std::optional<RateLimiterConfig>& config) {
    (void)config;
    return fail(ENOTSUP, "{} has no {}", name(), which);
  }
};

}  // namespace vessel::vmm::virtio
