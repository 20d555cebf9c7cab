#include "vmm/devices/virtio/mmio/mmio_transport.h"

#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <sys/eventfd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "vmm/sandbox/seccomp.h"

namespace vessel::vmm::virtio {

Result<std::shared_ptr<MmioTransport>> MmioTransport::create(std::unique_ptr<DeviceLogic> logic,
                                                             DeviceContext ctx, size_t budget,
                                                             uint32_t poll_us) {
  if (!ctx.memory) return fail(EINVAL, "virtio device needs guest memory");
  if (!ctx.irq) return fail(EINVAL, "virtio device needs an interrupt line");
  if (budget == 0) return fail(EINVAL, "virtio request budget must be positive");
  EventFd notify = TRY(EventFd::create(0, EFD_NONBLOCK));
  EventFd control = TRY(EventFd::create(0, EFD_NONBLOCK));
  std::shared_ptr<MmioTransport> dev(
      new MmioTransport(std::move(logic), std::move(ctx), budget, poll_us, std::move(notify),
                        std::move(control)));
  dev->logic_->attach(dev.get());
  dev->thread_ = std::thread([raw = dev.get()] { raw->run(); });
  return dev;
}

MmioTransport::MmioTransport(std::unique_ptr<DeviceLogic> logic, DeviceContext ctx, size_t budget,
                             uint32_t poll_us, EventFd notify, EventFd control)
    : logic_(std::move(logic)),
      ctx_(std::move(ctx)),
      budget_(budget),
      poll_us_(poll_us),
      spell_us_(poll_us),
      notify_(std::move(notify)),
      control_(std::move(control)),
      kick_registered_(logic_->num_queues(), false),
      queues_(logic_->num_queues()) {}

MmioTransport::~MmioTransport() {
  {
    std::lock_guard lock(pause_mu_);
    stop_ = true;
  }
  control_requested_ = true;
  pause_cv_.notify_all();
  (void)control_.signal();
  if (thread_.joinable()) thread_.join();
  // Requests still running on I/O workers complete through us: finish them while mu_ lives.
  logic_->drain();
  logic_.reset();
}

// ---- registers (vCPU thread) ----

void MmioTransport::read(uint64_t offset, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  if (offset >= reg::kConfig) {
    logic_->read_config(offset - reg::kConfig, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) {
    counters_.bad_register_accesses++;
    return;
  }
  uint32_t value = read_register(offset);
  std::memcpy(data.data(), &value, 4);
}

void MmioTransport::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset >= reg::kConfig) {
    logic_->write_config(offset - reg::kConfig, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) {
    counters_.bad_register_accesses++;
    return;
  }
  uint32_t value;
  std::memcpy(&value, data.data(), 4);
  write_register(offset, value);
}

uint32_t MmioTransport::read_register(uint64_t offset) {
  switch (offset) {
    case reg::kMagic: return kMagicValue;
    case reg::kVersion: return 2;
    case reg::kDeviceId: return logic_->device_type();
    case reg::kVendorId: return kVendorVessel;
    case reg::kInterruptStatus: return interrupt_status_.load() | logic_->interrupt_status_bits();
    case reg::kStatus: return status_.load();
    case reg::kConfigGeneration: return config_generation_.load();
    default: break;
  }
  std::lock_guard lock(mu_);
  switch (offset) {
    case reg::kDeviceFeatures:
      return features_sel_ == 0   ? static_cast<uint32_t>(logic_->features())
             : features_sel_ == 1 ? static_cast<uint32_t>(logic_->features() >> 32)
                                  : 0;
    case reg::kQueueNumMax:
      return queue_sel_ < queues_.size() ? logic_->max_queue_size() : 0;
    case reg::kQueueReady:
      return queue_sel_ < queues_.size() ? queues_[queue_sel_].ready : 0;
    default:
      counters_.bad_register_accesses++;  // write-only or unknown register
      return 0;
  }
}

void MmioTransport::write_register(uint64_t offset, uint32_t value) {
  if (offset == reg::kQueueNotify) {
    // Only reached when KVM did not take the write through the ioeventfd.
    if (int kick = value <= 0xffff ? logic_->queue_kick_fd(static_cast<uint16_t>(value)) : -1; kick >= 0) {
      uint64_t one = 1;
      (void)!::write(kick, &one, sizeof one);  // straight to the kernel that serves the queue
      return;
    }
    (void)notify_.signal();
    return;
  }
  // A kernel-served device stops the kernel (on the device thread) before the reset proper.
  if (offset == reg::kStatus && value == 0 && logic_->kernel_served()) stop_kernel();
  if (offset == reg::kInterruptAck) {
    interrupt_status_.fetch_and(~value);
    return;
  }
  std::lock_guard lock(mu_);
  QueueConfig* q = queue_sel_ < queues_.size() ? &queues_[queue_sel_] : nullptr;
  uint32_t st = status_.load();
  // Queue registers may change only while the queue is not ready (spec 4.2.2.3).
  bool queue_writable = q && !q->ready;
  auto set_low = [](uint64_t& a, uint32_t v) { a = (a & ~0xffffffffull) | v; };
  auto set_high = [](uint64_t& a, uint32_t v) { a = (a & 0xffffffffull) | (uint64_t(v) << 32); };
  switch (offset) {
    case reg::kDeviceFeaturesSel: features_sel_ = value; return;
    case reg::kDriverFeaturesSel: driver_features_sel_ = value; return;
    case reg::kDriverFeatures:
      if ((st & status::kDriver) && !(st & status::kFeaturesOk)) {
        if (driver_features_sel_ == 0) set_low(driver_features_, value);
        else if (driver_features_sel_ == 1) set_high(driver_features_, value);
        return;
      }
      break;
    case reg::kQueueSel: queue_sel_ = value; return;
    case reg::kQueueNum:
      if (queue_writable) { q->size = static_cast<uint16_t>(value > 0xffff ? 0 : value); return; }
      break;
    case reg::kQueueReady:
      if (q) { set_queue_ready(*q, value == 1); return; }
      break;
    case reg::kStatus: write_status(value); return;
    case reg::kQueueDescLow: if (queue_writable) { set_low(q->layout.desc, value); return; } break;
    case reg::kQueueDescHigh: if (queue_writable) { set_high(q->layout.desc, value); return; } break;
    case reg::kQueueDriverLow: if (queue_writable) { set_low(q->layout.avail, value); return; } break;
    case reg::kQueueDriverHigh: if (queue_writable) { set_high(q->layout.avail, value); return; } break;
    case reg::kQueueDeviceLow: if (queue_writable) { set_low(q->layout.used, value); return; } break;
    case reg::kQueueDeviceHigh: if (queue_writable) { set_high(q->layout.used, value); return; } break;
    default: break;
  }
  counters_.bad_register_accesses++;
}

void MmioTransport::set_queue_ready(QueueConfig& q, bool ready) {
  if (!ready) {
    q.ready = false;
    return;
  }
  if (q.ready || (status_.load() & status::kNeedsReset)) return;
  q.layout.size = q.size;
  auto ok = validate_layout(*ctx_.memory, q.layout, logic_->max_queue_size());
  if (!ok) {
    enter_needs_reset(ok.error());
    return;
  }
  bool indirect = driver_features_ & kFeatureIndirectDesc;
  q.queue = Virtqueue(ctx_.memory, q.layout, indirect, driver_features_ & kFeatureEventIdx);
  q.ready = true;
  register_doorbell(static_cast<uint16_t>(&q - queues_.data()));
}

void MmioTransport::register_doorbell(uint16_t index) {
  if (!ctx_.add_ioeventfd) return;
  if (int kick = logic_->queue_kick_fd(index); kick >= 0) {
    // The kernel serving this queue hears the doorbell directly: an ioeventfd that matches the
    // queue's index (a catch-all one would collide with it, so the transport registers none).
    if (kick_registered_[index]) return;
    auto r = ctx_.add_ioeventfd(ctx_.mmio_base + reg::kQueueNotify, 4, index, kick);
    if (r) kick_registered_[index] = true;
    else
      log::warn("{} at {:#x}: ioeventfd for queue {} unavailable, its notifications exit to the VMM: {}",
                logic_->name(), ctx_.mmio_base, index, r.error().to_string());
    return;
  }
  if (ioeventfd_registered_) return;
  // One doorbell for all queues: the device thread scans every ready queue when it rings.
  auto r = ctx_.add_ioeventfd(ctx_.mmio_base + reg::kQueueNotify, 4, std::nullopt, notify_.fd());
  if (r) ioeventfd_registered_ = true;
  else
    log::warn("{} at {:#x}: ioeventfd unavailable, notifications exit to the VMM: {}",
              logic_->name(), ctx_.mmio_base, r.error().to_string());
}

void MmioTransport::write_status(uint32_t value) {
  if (value == 0) {
    reset_locked();
    return;
  }
  uint32_t old = status_.load();
  uint32_t next = (value & ~status::kNeedsReset) | (old & status::kNeedsReset);
  if ((next & status::kFeaturesOk) && !(old & status::kFeaturesOk)) {
    uint64_t offered = logic_->features();
    if ((driver_features_ & ~offered) || !(driver_features_ & kFeatureVersion1)) {
      // Leave FEATURES_OK clear: the driver reads it back and gives up (spec 3.1.1).
      uint64_t n = ++counters_.feature_negotiation_failures;
      if (n <= 16 || (n & (n - 1)) == 0)
        log::warn("{} at {:#x}: driver features {:#x} refused (offered {:#x}, VERSION_1 needed)",
                  logic_->name(), ctx_.mmio_base, driver_features_, offered);
      next &= ~status::kFeaturesOk;
    }
  }
  if ((next & status::kDriverOk) && !(old & status::kDriverOk)) {
    if (!(next & status::kFeaturesOk)) {
      counters_.feature_negotiation_failures++;
      next &= ~status::kDriverOk;
    } else {
      logic_->activate(driver_features_);
    }
  }
  status_.store(next);
  if (next & status::kDriverOk) (void)notify_.signal();  // serve anything queued before DRIVER_OK
}

void MmioTransport::reset_locked() {
  ++epoch_;
  status_.store(0);
  interrupt_status_.store(0);
  driver_features_ = 0;
  features_sel_ = driver_features_sel_ = queue_sel_ = 0;
  for (auto& q : queues_) q = QueueConfig{};
  logic_->reset();
}

void MmioTransport::enter_needs_reset(const QueueFault& fault) {
  counters_.count(fault.kind);
  if (status_.load() & status::kNeedsReset) return;
  uint64_t n = ++counters_.needs_reset;
  // A guest can break and reset its queue in a loop: log the first few, then powers of two.
  if (n <= 16 || (n & (n - 1)) == 0)
    log::warn("{} at {:#x}: guest broke a virtqueue ({}), device needs reset: {}", logic_->name(),
              ctx_.mmio_base, guest_error_name(fault.kind), fault.message);
  status_.fetch_or(status::kNeedsReset);
  ++epoch_;
  for (auto& q : queues_) q.ready = false;
  config_generation_++;
  raise_interrupt(kInterruptConfigChange);
}

void MmioTransport::config_changed() {
  config_generation_++;
  uint32_t st = status_.load();
  if ((st & status::kDriverOk) && !(st & status::kNeedsReset)) raise_interrupt(kInterruptConfigChange);
}

void MmioTransport::raise_interrupt(uint32_t reason) {
  interrupt_status_.fetch_or(reason);
  counters_.interrupts++;
  if (auto r = ctx_.irq->trigger(); !r)
    log::warn("{} at {:#x}: interrupt failed: {}", logic_->name(), ctx_.mmio_base,
              r.error().to_string());
}

// ---- device thread ----

void MmioTransport::complete_async(uint16_t index, uint64_t epoch, uint16_t head, uint32_t written) {
  bool more = false;
  {
    std::lock_guard lock(mu_);
    if (epoch != epoch_ || index >= queues_.size() || !queues_[index].ready) return;
    Virtqueue& q = queues_[index].queue;
    (void)q.complete(head, written);
    if (q.should_interrupt()) raise_interrupt(kInterruptUsedBuffer);
    more = q.has_pending();
  }
  // Chains may be waiting for the in-flight slot this request just freed.
  if (more) (void)notify_.signal();
}

MmioTransport::Batch MmioTransport::process_all() {
  std::lock_guard lock(mu_);
  Batch batch;
  uint32_t st = status_.load();
  if (!(st & status::kDriverOk) || (st & status::kNeedsReset)) return batch;
  if (logic_->kernel_served()) {
    std::vector<const Virtqueue*> ready(queues_.size(), nullptr);
    for (size_t i = 0; i < queues_.size(); ++i)
      if (queues_[i].ready) ready[i] = &queues_[i].queue;
    if (logic_->serve_kernel(ready, counters_)) raise_interrupt(kInterruptUsedBuffer);
    return batch;
  }
  for (uint16_t i = 0; i < queues_.size(); ++i) {
    QueueConfig& q = queues_[i];
    if (!q.ready) continue;
    auto done = logic_->process(i, q.queue, budget_, counters_);
    if (!done) {
      enter_needs_reset(done.error());
      return batch;
    }
    if (*done > 0 && q.queue.should_interrupt()) raise_interrupt(kInterruptUsedBuffer);
    batch.done += *done;
    if (*done == budget_) batch.more = true;
  }
  return batch;
}

bool MmioTransport::any_pending() {
  std::lock_guard lock(mu_);
  uint32_t st = status_.load();
  if (!(st & status::kDriverOk) || (st & status::kNeedsReset) || !logic_->can_accept()) return false;
  for (const auto& q : queues_)
    if (q.ready && q.queue.has_pending()) return true;
  return false;
}

// poll(2)'s timeout: until the device's retry time, rounded up to whole milliseconds; -1 (no
// timeout) when it holds nothing back.
int MmioTransport::retry_timeout_ms() const {
  std::optional<std::chrono::steady_clock::time_point> at;
  {
    std::lock_guard lock(mu_);  // set_rate_limiter() may replace the limiters meanwhile
    at = logic_->retry_at();
  }
  if (!at) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*at - std::chrono::steady_clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
}

int MmioTransport::backend_poll_fd() {
  int fd = logic_->backend_fd();
  if (fd < 0) return -1;
  std::lock_guard lock(mu_);
  uint32_t st = status_.load();
  if (!(st & status::kDriverOk) || (st & status::kNeedsReset)) return -1;
  return logic_->backend_wanted() ? fd : -1;
}

void MmioTransport::run() {
  using Clock = std::chrono::steady_clock;
  pthread_setname_np(pthread_self(), logic_->name());
  if (int nice = ctx_.thread_nice; nice != 0)
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
  sandbox::enter(logic_->thread_kind());
  for (;;) {
    // A negative fd is ignored by poll(2): the backend slot is there only while it is wanted.
    pollfd fds[3] = {{control_.fd(), POLLIN, 0}, {notify_.fd(), POLLIN, 0}, {backend_poll_fd(), POLLIN, 0}};
    auto slept_from = Clock::now();
    int ready = ::poll(fds, 3, retry_timeout_ms());
    if (ready < 0) {
      if (errno == EINTR) continue;
      log::error("{} at {:#x}: poll failed: {}", logic_->name(), ctx_.mmio_base, strerror(errno));
      return;
    }
    // Woken soon after giving up: a longer spell would have caught this one (QEMU's adaptive
    // polling works the same way).
    if (poll_us_ > 0 && Clock::now() - slept_from < std::chrono::microseconds(poll_us_))
      spell_us_ = std::min(poll_us_, std::max<uint32_t>(4, spell_us_ * 2));
    if (fds[0].revents & POLLIN) (void)control_.consume();
    {
      std::unique_lock lock(pause_mu_);
      if (stop_) {
        // The kernel stops touching guest memory before the device goes.
        if (logic_->kernel_served()) logic_->drain();
        return;
      }
      if (kernel_stop_requested_) {
        lock.unlock();
        logic_->drain();
        {
          std::lock_guard queues(mu_);
          logic_->reset();  // no restart before the driver's next DRIVER_OK
        }
        lock.lock();
        kernel_stop_requested_ = false;
        pause_cv_.notify_all();
      }
      if (pause_requested_) {
        lock.unlock();
        logic_->drain();  // in-flight requests complete before we report paused
        lock.lock();
        if (stop_) return;
        paused_ = true;
        pause_cv_.notify_all();
        pause_cv_.wait(lock, [this] { return !pause_requested_ || stop_; });
        paused_ = false;
        if (stop_) return;
        // A kernel-served device starts its kernel again (drain() stopped it).
        if (logic_->kernel_served()) (void)notify_.signal();
        continue;  // a notification kept during the pause is still pending on notify_
      }
    }
    // A timeout is the device's retry time (requests held back by a rate limiter).
    bool backend_ready = fds[2].revents & (POLLIN | POLLHUP | POLLERR);
    if (!(fds[1].revents & POLLIN) && !backend_ready && ready != 0) continue;
    if (fds[1].revents & POLLIN) {
      auto n = notify_.consume();
      if (n && *n) counters_.notifications += *n;
    }
    Batch batch = process_all();
    // Budget exhausted: ring our own doorbell so that pause/stop are checked between batches.
    if (batch.more) {
      (void)notify_.signal();
      continue;
    }
    if (batch.done > 0 && spell_us_ > 0) poll_rings();
  }
}

// A short busy-poll after serving requests: a driver that submits again right after a
// completion (most do, under load) is served without the sleep/wake-up of poll(2). Each new
// request restarts the spell; pause/stop end it at once. A spell that finds nothing halves the
// next one, so a guest that is not submitting (or a host too busy to run it) stops the spinning.
void MmioTransport::poll_rings() {
  using Clock = std::chrono::steady_clock;
  auto spell = std::chrono::microseconds(spell_us_);
  auto until = Clock::now() + spell;
  set_no_notify(true);  // we are watching the rings: the driver may skip the doorbell
  while (!control_requested_.load(std::memory_order_relaxed) && Clock::now() < until) {
    if (!any_pending()) {
      __builtin_ia32_pause();
      continue;
    }
    Batch batch = process_all();
    counters_.polled_batches++;
    if (batch.more) {
      set_no_notify(false);
      (void)notify_.signal();
      return;
    }
    until = Clock::now() + spell;
  }
  if (!control_requested_.load(std::memory_order_relaxed))
    spell_us_ = spell_us_ / 2 < 4 ? 0 : spell_us_ / 2;
  set_no_notify(false);
  // A chain made available while the flag was still set came without a doorbell: ring our own.
  if (any_pending()) (void)notify_.signal();
}

void MmioTransport::set_no_notify(bool on) {
  std::lock_guard lock(mu_);
  uint32_t st = status_.load();
  if (!(st & status::kDriverOk) || (st & status::kNeedsReset)) return;
  for (auto& q : queues_)
    if (q.ready) q.queue.set_no_notify(on);
}

void MmioTransport::stop_kernel() {
  std::unique_lock lock(pause_mu_);
  if (stop_ || paused_) return;  // paused: drain() already stopped it
  kernel_stop_requested_ = true;
  (void)control_.signal();
  pause_cv_.wait(lock, [this] { return !kernel_stop_requested_ || paused_ || stop_; });
}

Result<void> MmioTransport::pause() {
  std::unique_lock lock(pause_mu_);
  if (paused_ && pause_requested_) return {};
  pause_requested_ = true;
  control_requested_ = true;
  TRY(control_.signal());
  pause_cv_.wait(lock, [this] { return paused_ || stop_; });
  return {};
}

Result<void> MmioTransport::resume() {
  {
    std::lock_guard lock(pause_mu_);
    pause_requested_ = false;
    control_requested_ = false;
  }
  pause_cv_.notify_all();
  return {};
}

Result<void> MmioTransport::sync() {
  logic_->drain();
  std::lock_guard lock(mu_);
  return logic_->sync();
}

Result<void> MmioTransport::hand_over_image(bool release) {
  if (release) logic_->drain();
  std::lock_guard lock(mu_);
  return logic_->hand_over_image(release);
}

Result<void> MmioTransport::take_over_image() {
  std::lock_guard lock(mu_);
  return logic_->take_over_image();
}

Result<void> MmioTransport::set_rate_limiter(std::string_view which, const std::optional<RateLimiterConfig>& config) {
  {
    std::lock_guard lock(mu_);
    TRY(logic_->set_rate_limiter(which, config));
  }
  // Requests the old limiter held back may go now: the device thread looks at its queues again.
  TRY(notify_.signal());
  return {};
}

json::Json MmioTransport::metrics() const {
  json::Json m;
  m["device"] = logic_->name();
  m["mmio_base"] = ctx_.mmio_base;
  m["status"] = status_.load();
  m["notifications"] = counters_.notifications.load();
  m["interrupts"] = counters_.interrupts.load();
  m["needs_reset"] = counters_.needs_reset.load();
  m["feature_negotiation_failures"] = counters_.feature_negotiation_failures.load();
  m["bad_register_accesses"] = counters_.bad_register_accesses.load();
  m["backend_errors"] = counters_.backend_errors.load();
  m["polled_batches"] = counters_.polled_batches.load();
  json::Json errors = json::Json::object();
  for (size_t i = 0; i < counters_.guest_errors.size(); ++i)
    errors[guest_error_name(static_cast<GuestErrorKind>(i))] = counters_.guest_errors[i].load();
  m["guest_errors"] = std::move(errors);
  logic_->add_metrics(m);
  return m;
}

}  // namespace vessel::vmm::virtio
