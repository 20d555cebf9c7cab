// The virtio devices of vessel-vmm, as the VMM core sees them: a virtio-mmio (version 2) register
// window per device, created by a factory, inserted on the MMIO bus, paused/resumed with the VM.
//
// Contract with the VMM core (src/vmm):
//   * Each device owns a 4 KiB window at mmio_base = 0xD000_0000 + n * 0x1000 and GSI 5 + n
//     (edge, irqfd). Insert the returned device on the MMIO bus at mmio_base, length kMmioWindow.
//   * Register reads/writes arrive on the vCPU thread through BusDevice::read/write; they only
//     touch registers. Queue work runs on one device thread per device, woken by an ioeventfd on
//     QueueNotify, which the device registers through DeviceContext::add_ioeventfd when the driver
//     sets QueueReady=1 (and keeps on reset: the same eventfd is reused).
//   * The device signals the guest through DeviceContext::irq (used-buffer and config-change).
//   * Every guest access goes through GuestMemory (bounds-checked). A broken ring puts the device
//     in DEVICE_NEEDS_RESET (status 0x40) with a config-change interrupt; a bad request fails
//     only that request. Neither crashes nor hangs the VMM; both are counted in metrics().
//
// Build: library `vessel_virtio` (src/vmm/devices/virtio/CMakeLists.txt), linking vessel_base,
// vessel_block and vessel_vmm_seams (GuestMemory + Bus, defined by src/vmm/CMakeLists.txt, or by
// ours when built alone). src/vmm/CMakeLists.txt add_subdirectory's it and links it into
// vessel_vmm. Design, threads and the hostile-guest rules: docs/vmm/virtio.md.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "block/block_backend.h"
#include "vmm/api/rate_limiter_config.h"
#include "vmm/bus/bus.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/snapshot/device_extra.h"
#include "vmm/snapshot/device_state.h"

namespace vessel::vmm::virtio {

inline constexpr uint64_t kMmioBase = 0xD000'0000;   // first device window
inline constexpr uint64_t kMmioWindow = 0x1000;      // one window per device
inline constexpr uint32_t kFirstGsi = 5;             // device n uses GSI kFirstGsi + n
inline constexpr uint32_t kQueueNotifyOffset = 0x50; // virtio-mmio QueueNotify register

struct DeviceContext {
  const GuestMemory* memory = nullptr;  // outlives the device
  std::shared_ptr<InterruptLine> irq;   // edge-triggered line of this device (irqfd)
  uint64_t mmio_base = 0;               // guest-physical base of the 4 KiB window
  // Registers `eventfd` as a KVM ioeventfd for a write of `len` bytes at guest address `addr`
  // (mmio_base + kQueueNotifyOffset), optionally only for `datamatch` (the queue index). The fd
  // stays owned by the device; the VMM must not close it. When left empty (unit tests, or a VMM
  // without ioeventfd), QueueNotify register writes wake the device thread directly.
  std::function<Result<void>(uint64_t addr, uint32_t len, std::optional<uint64_t> datamatch,
                             int eventfd)>
      add_ioeventfd;
  // Nice value of the device's threads (device thread, I/O workers): below 0 they win the CPU
  // from batch work on a busy host, which is most of a notification's latency there
  // (docs/benchmarks/virtio.md). vessel-vmm: "vessel": {"io_nice": N} in the configuration.
  int thread_nice = 0;
};

struct BlockConfig {
  std::string drive_id;  // reported as the serial by VIRTIO_BLK_T_GET_ID (up to 20 bytes used)
  std::string path;      // image on the host
  block::Format format = block::Format::Raw;
  bool read_only = false;        // VIRTIO_BLK_F_RO; guest writes fail with IOERR
  // Which backing files a qcow2 image may use (block::OpenOptions): vessel-vmm lists them.
  block::BackingPolicy backing = block::BackingPolicy::Refuse;
  std::vector<std::string> allowed_backing;
  // cache_type Unsafe: VIRTIO_BLK_F_FLUSH is not offered and flushes never wait for the disk.
  bool unsafe_cache = false;
  uint16_t queue_size = 256;     // max queue size offered (power of two, <= 32768)
  uint32_t max_in_flight = 128;  // requests being processed at once; more wait in the ring
  // Threads that serve requests concurrently (started on demand; 0: everything runs on the
  // device thread, one request after another). The device thread always runs the last request
  // of a batch itself, so a queue depth of one never pays a thread hand-off.
  uint32_t io_workers = 4;
  // After serving requests, the device thread polls the ring this long (µs) before sleeping,
  // so back-to-back requests skip the wake-up (docs/benchmarks/virtio.md: ~3x faster round
  // trips). 0 disables it. vessel-vmm: --virtio-poll-us.
  uint32_t poll_us = 50;
  // Firecracker's rate_limiter: requests over it wait in the ring until the buckets refill.
  std::optional<RateLimiterConfig> rate_limiter;
  // The receiver of a live migration: a writable image is opened without its locks (the sender
  // holds them until its pause) and again with them by take_over_image().
  bool defer_lock = false;
};

// A virtio device behind its virtio-mmio register window.
class VirtioMmioDevice : public BusDevice {
 public:
  ~VirtioMmioDevice() override = default;
  void read(uint64_t offset, std::span<uint8_t> data) override = 0;
  void write(uint64_t offset, std::span<const uint8_t> data) override = 0;

  // Quiesces the device thread: on return no request is in progress and no guest memory is being
  // touched (in-flight requests are completed first). Notifications that arrive meanwhile are
  // kept and served after resume(). Idempotent.
  virtual Result<void> pause() = 0;
  virtual Result<void> resume() = 0;
  // Makes what the guest wrote durable in the image file when the VM ends (qcow2 keeps metadata
  // in a cache until a flush). Call while paused.
  virtual Result<void> sync() { return {}; }
  // Live migration of a VM with a writable disk (docs/vmm/migration.md): the sender, paused,
  // makes its image durable and drops its locks (`release`), or takes them again when the
  // migration failed; the receiver, whose drive was opened without locks while the sender still
  // held them, opens its image again with them before the VM's state goes in (its qcow2
  // metadata read back then is what the sender left). Nothing for other devices.
  virtual Result<void> hand_over_image(bool release) {
    (void)release;
    return {};
  }
  virtual Result<void> take_over_image() { return {}; }

  // Counters, e.g. {"device":"virtio-blk","id":"rootfs","requests":{"read":..,"write":..,
  // "flush":..,"get_id":..,"discard":..,"write_zeroes":..,"unsupported":..},
  // "bytes":{"read":..,"written":..},"errors":{"<kind>":n,...},"needs_reset":n,
  // "notifications":n,"interrupts":n}. Safe to call from any thread.
  virtual json::Json metrics() const = 0;

  // virtio device id (2 = block, 4 = entropy), for ACPI/logging.
  virtual uint32_t device_type() const = 0;

  // Replaces one of the device's rate limiters on a running VM (PATCH /drives, PATCH
  // /network-interfaces): "rate_limiter" (blk), "rx_rate_limiter" or "tx_rate_limiter" (net);
  // none removes it. New buckets start full; held requests are retried at once.
  virtual Result<void> set_rate_limiter(std::string_view which, const std::optional<RateLimiterConfig>& config) {
    (void)config;
    return fail(ENOTSUP, "this device has no {}", which);
  }
  // The transport's state for a snapshot; call while paused (no request in flight).
  virtual Result<snapshot::VirtioState> save_state() const = 0;
  // Puts a saved state back into a freshly built device of the same kind, after guest memory was
  // restored: the rings it names are checked again, as when the driver made them ready.
  virtual Result<void> restore_state(const snapshot::VirtioState& state) = 0;
  // The device's own state beyond the transport's (snapshot/device_extra.h), while paused; and
  // back into a freshly built device, before restore_state().
  virtual Result<snapshot::DeviceExtra> save_extra() const { return snapshot::DeviceExtra{}; }
  virtual Result<void> restore_extra(const snapshot::DeviceExtra& extra) {
    if (std::holds_alternative<std::monostate>(extra)) return {};
    return fail(EINVAL, "this device keeps no state of its own in a snapshot");
  }
};

// Opens the drive's image as BlockConfig says (block::open_backend).
Result<std::unique_ptr<block::BlockBackend>> open_block_image(const BlockConfig& config);

// Opens the image (block::open_backend) and builds a virtio-blk device.
Result<std::shared_ptr<VirtioMmioDevice>> create_block(const BlockConfig& config, DeviceContext ctx);

// Same, with a backend the caller already opened (tests, or a VMM that opens disks itself).
Result<std::shared_ptr<VirtioMmioDevice>> create_block_with_backend(
    const BlockConfig& config, std::unique_ptr<block::BlockBackend> backend, DeviceContext ctx);

// Which backend serves a network interface's rings (vessel extension "vhost"): Auto takes
// vhost-net when /dev/vhost-net opens and no rate limiter is configured, else the userspace
// path; On insists on vhost-net (an error when it cannot be used); Off never uses it.
enum class VhostMode { Auto, On, Off };

// A network interface: Firecracker's network-interfaces entry, resolved.
struct NetConfig {
  std::string iface_id;
  std::string host_dev_name;                 // an existing tap
  std::optional<std::array<uint8_t, 6>> mac;  // none: a locally administered one from the names
  std::optional<RateLimiterConfig> rx_rate_limiter, tx_rate_limiter;
  uint16_t queue_size = 256;
  VhostMode vhost = VhostMode::Auto;
};
namespace net { class Tap; }

// Attaches to the tap (net::Tap::open) and builds a virtio-net device (docs/vmm/net.md).
Result<std::shared_ptr<VirtioMmioDevice>> create_net(const NetConfig& config, DeviceContext ctx);
// Same over a tap the caller opened (tests pass a socketpair through net::Tap::adopt).
Result<std::shared_ptr<VirtioMmioDevice>> create_net_with_tap(const NetConfig& config, net::Tap tap,
                                                              DeviceContext ctx);

// virtio-rng fed from getrandom(2).
Result<std::shared_ptr<VirtioMmioDevice>> create_rng(DeviceContext ctx);

// virtio-vsock with Firecracker's host side (docs/vmm/vsock.md): listens on `uds_path` for host
// clients ("CONNECT <port>\n"); guest connections to host port P go to "<uds_path>_P".
struct VsockConfig {
  uint64_t guest_cid = 3;  // 3..2^32-1
  std::string uds_path;
};
Result<void> validate_vsock_config(const VsockConfig& config);
Result<std::shared_ptr<VirtioMmioDevice>> create_vsock(const VsockConfig& config, DeviceContext ctx);

}  // namespace vessel::vmm::virtio
