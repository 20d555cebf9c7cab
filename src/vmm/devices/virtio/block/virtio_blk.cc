#include "vmm/devices/virtio/block/virtio_blk.h"

#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "vmm/devices/virtio/mmio/mmio_transport.h"

namespace vessel::vmm::virtio {
namespace blk {
namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

template <typename T>
void put(std::array<uint8_t, kConfigSize>& config, size_t offset, T value) {
  std::memcpy(config.data() + offset, &value, sizeof value);
}

}  // namespace

BlockLogic::BlockLogic(const BlockConfig& config, std::unique_ptr<block::BlockBackend> backend,
                       const GuestMemory* memory, int nice)
    : drive_id_(config.drive_id),
      backend_(std::move(backend)),
      memory_(memory),
      queue_size_(config.queue_size),
      max_in_flight_(config.max_in_flight),
      sync_at_stop_(config.format == block::Format::Qcow2 && !config.read_only) {
  if (config.io_workers > 0 && config.max_in_flight > 1)
    workers_ = std::make_unique<IoWorkers>(config.io_workers, "blk-" + config.drive_id, nice);
  if (config.rate_limiter) {
    limiter_.emplace(*config.rate_limiter, now_ns());
    limiter_config_ = config.rate_limiter;
  }
  if (config.defer_lock && !config.read_only) reopen_ = config;
  disk_.capacity_sectors = backend_->size() / kSectorSize;
  disk_.read_only = config.read_only || backend_->read_only();
  features_ = kFeatureVersion1 | kFeatureIndirectDesc | kFeatureSegMax | kFeatureBlkSize;
  // cache_type Unsafe (Firecracker's): no flush offered, the guest never waits for the disk.
  if (!config.unsafe_cache) features_ |= kFeatureFlush;
  if (disk_.read_only) features_ |= kFeatureRo;
  else features_ |= kFeatureDiscard | kFeatureWriteZeroes;

  put<uint64_t>(config_, 0, disk_.capacity_sectors);
  put<uint32_t>(config_, 12, queue_size_ - 2);  // seg_max: chain = header + data... + status
  put<uint32_t>(config_, 20, kSectorSize);      // blk_size
  put<uint16_t>(config_, 34, 1);                // num_queues
  put<uint32_t>(config_, 36, kMaxDiscardSectors);
  put<uint32_t>(config_, 40, 1);  // max_discard_seg
  put<uint32_t>(config_, 44, 1);  // discard_sector_alignment
  put<uint32_t>(config_, 48, kMaxDiscardSectors);
  put<uint32_t>(config_, 52, 1);  // max_write_zeroes_seg
  put<uint8_t>(config_, 56, 1);   // write_zeroes_may_unmap
}

void BlockLogic::read_config(uint64_t offset, std::span<uint8_t> data) const {
  read_config_bytes(config_, offset, data);
}

void BlockLogic::activate(uint64_t driver_features) {
  disk_.discard = driver_features & kFeatureDiscard;
  disk_.write_zeroes = driver_features & kFeatureWriteZeroes;
}

Status BlockLogic::execute(const BlkRequest& req, DeviceCounters& counters) {
  uint64_t offset = req.sector * kSectorSize;  // range-checked: no overflow
  Result<void> r;
  switch (req.type) {
    case RequestType::In:
      reads_++;
      r = backend_->readv(offset, req.data);
      if (r) bytes_read_ += req.data_len;
      break;
    case RequestType::Out:
      writes_++;
      r = backend_->writev(offset, req.data);
      if (r) bytes_written_ += req.data_len;
      break;
    case RequestType::Flush:
      flushes_++;
      r = backend_->flush();
      break;
    case RequestType::GetId: {
      get_ids_++;
      // The serial is the drive id, zero-padded, not NUL-terminated when it is 20 bytes long.
      uint64_t done = 0;
      for (const auto& v : req.data) {
        auto* p = static_cast<uint8_t*>(v.iov_base);
        for (size_t i = 0; i < v.iov_len; ++i, ++done)
          p[i] = done < drive_id_.size() ? static_cast<uint8_t>(drive_id_[done]) : 0;
      }
      break;
    }
    case RequestType::Discard:
    case RequestType::WriteZeroes: {
      bool zero = req.type == RequestType::WriteZeroes;
      (zero ? write_zeroes_ : discards_)++;
      r = backend_->discard(req.range_sector * kSectorSize,
                            uint64_t(req.range_sectors) * kSectorSize, zero);
      break;
    }
  }
  if (!r) {
    counters.backend_errors++;
    log::warn("virtio-blk {}: backend I/O failed: {}", drive_id_, r.error().to_string());
    return kIoErr;
  }
  return kOk;
}

uint32_t BlockLogic::run(const BlkRequest& req, DeviceCounters& counters) {
  Status status = execute(req, counters);
  // The status byte is written last, after the data (spec 5.2.6).
  (void)memory_->write_obj(req.status_addr, static_cast<uint8_t>(status));
  return status == kOk ? req.used_len() : 1;
}

void BlockLogic::note_in_flight(uint32_t now) {
  for (uint32_t peak = peak_in_flight_.load(); now > peak && !peak_in_flight_.compare_exchange_weak(peak, now);) {
  }
}

bool BlockLogic::submit(uint16_t queue_index, uint16_t head, BlkRequest& req, DeviceCounters& counters) {
  // Every worker busy: the caller runs it rather than queue it behind them.
  if (!workers_->has_room()) return false;
  uint64_t epoch = sink_->epoch();
  note_in_flight(++in_flight_);
  workers_->post([this, queue_index, head, epoch, &counters, req = std::move(req)] {
    uint32_t used = run(req, counters);
    concurrent_requests_++;
    // Free the slot first: the completion may wake the device thread to pop more.
    --in_flight_;
    sink_->complete_async(queue_index, epoch, head, used);
  });
  return true;
}

Result<void> BlockLogic::sync() {
  if (!sync_at_stop_) return {};  // raw: the data is in the page cache already
  TRY_CTX(backend_->flush(), "virtio-blk {}: flush the image", drive_id_);
  return {};
}

Result<void> BlockLogic::hand_over_image(bool release) {
  if (release) TRY(sync());  // what the receiver reads must be in the file
  TRY_CTX(backend_->hand_over_lock(release), "virtio-blk {}: {} the image's locks", drive_id_,
          release ? "release" : "take again");
  return {};
}

Result<void> BlockLogic::take_over_image() {
  if (!reopen_) return {};
  reopen_->defer_lock = false;
  auto fresh = TRY_CTX(open_block_image(*reopen_), "virtio-blk drive {}", drive_id_);
  if (fresh->size() != backend_->size())
    return fail(EINVAL, "virtio-blk {}: the image is {} bytes now, {} when the VM was built", drive_id_, fresh->size(),
                backend_->size());
  backend_ = std::move(fresh);  // before the VM runs: no request can be in flight
  reopen_.reset();
  return {};
}

bool BlockLogic::can_accept() const {
  return in_flight_.load() < max_in_flight_ && !(limiter_ && limiter_->blocked(now_ns()));
}

std::optional<std::chrono::steady_clock::time_point> BlockLogic::retry_at() const {
  // While a request is held, even when the wake time has passed already: the bucket may refill
  // before the device thread asks, and no doorbell would come for the held request.
  if (!limiter_ || !held_) return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(limiter_->wake_at_ns()));
}

Result<void> BlockLogic::set_rate_limiter(std::string_view which, const std::optional<RateLimiterConfig>& config) {
  if (which != "rate_limiter") return fail(EINVAL, "virtio-blk has no {}", which);
  if (config) limiter_.emplace(*config, now_ns());
  else limiter_.reset();
  std::lock_guard lock(config_mu_);
  limiter_config_ = config;
  return {};
}

void BlockLogic::drain() {
  if (workers_) workers_->drain();
}

QueueResult<size_t> BlockLogic::process(uint16_t index, Virtqueue& queue, size_t budget,
                                        DeviceCounters& counters) {
  bool concurrent = workers_ && sink_;
  held_ = false;
  size_t done = 0;
  std::optional<std::pair<uint16_t, BlkRequest>> held;  // the batch's last request: runs here
  while (done < budget && in_flight_.load() + (held ? 1 : 0) < max_in_flight_) {
    auto popped = queue.pop();
    if (!popped) {
      if (held) (void)queue.complete(held->first, run(held->second, counters));
      return tl::unexpected<QueueFault>(popped.error());
    }
    if (!*popped) break;
    auto& [head, chain] = **popped;
    ++done;
    if (!chain) {
      // Malformed chain: its buffers cannot be trusted, not even for a status byte.
      counters.count(chain.error().kind);
      (void)queue.complete(head, 0);
      continue;
    }
    auto req = parse_request(*memory_, *chain, disk_);
    if (!req) {
      const RequestError& e = req.error();
      counters.count(GuestErrorKind::BadRequest);
      refused_[static_cast<size_t>(e.kind)]++;
      log::debug("virtio-blk {}: request refused: {}", drive_id_, e.message);
      uint32_t used = 0;
      if (e.status_addr) {
        uint8_t s = e.status;
        if (memory_->write_obj(*e.status_addr, s)) used = 1;
      }
      (void)queue.complete(head, used);
      continue;
    }
    if (limiter_ && !limiter_->consume(req->data_len, now_ns())) {
      // Over the rate: the chain goes back to the ring; retry_at() says when to try again.
      queue.undo_pop();
      --done;
      held_ = true;
      ++throttled_;
      break;
    }
    if (!concurrent) {
      (void)queue.complete(head, run(*req, counters));
      continue;
    }
    // The previous one goes to a worker now that we know it is not the last.
    if (held) {
      if (!submit(index, held->first, held->second, counters)) {
        note_in_flight(in_flight_.load() + 1);
        (void)queue.complete(held->first, run(held->second, counters));
      }
      held.reset();
    }
    // With requests already on the workers the queue is deep: this one goes there too, so the
    // device thread is free to pop the next. Alone, it runs here (no hand-off at QD1).
    if (in_flight_.load() == 0) held.emplace(head, std::move(*req));
    else if (!submit(index, head, *req, counters)) {
      note_in_flight(in_flight_.load() + 1);
      (void)queue.complete(head, run(*req, counters));
    }
  }
  if (held) {
    note_in_flight(in_flight_.load() + 1);
    (void)queue.complete(held->first, run(held->second, counters));
  }
  return done;
}

void BlockLogic::add_metrics(json::Json& out) const {
  out["id"] = drive_id_;
  out["read_only"] = disk_.read_only;
  out["capacity_sectors"] = disk_.capacity_sectors;
  out["requests"] = {{"read", reads_.load()},       {"write", writes_.load()},
                     {"flush", flushes_.load()},    {"get_id", get_ids_.load()},
                     {"discard", discards_.load()}, {"write_zeroes", write_zeroes_.load()}};
  out["bytes"] = {{"read", bytes_read_.load()}, {"written", bytes_written_.load()}};
  json::Json refused = json::Json::object();
  for (size_t i = 0; i < refused_.size(); ++i)
    refused[request_error_name(static_cast<RequestErrorKind>(i))] = refused_[i].load();
  out["refused_requests"] = std::move(refused);
  out["max_in_flight"] = max_in_flight_;
  out["peak_in_flight"] = peak_in_flight_.load();
  out["concurrent_requests"] = concurrent_requests_.load();
  out["io_workers"] = workers_ ? workers_->threads() : 0;
  out["throttled_requests"] = throttled_.load();
  std::lock_guard lock(config_mu_);
  if (limiter_config_) out["rate_limiter"] = to_json(*limiter_config_);
}

}  // namespace blk

Result<std::shared_ptr<VirtioMmioDevice>> create_block_with_backend(
    const BlockConfig& config, std::unique_ptr<block::BlockBackend> backend, DeviceContext ctx) {
  if (!backend) return fail(EINVAL, "virtio-blk {}: no backend", config.drive_id);
  uint16_t qs = config.queue_size;
  if (qs < 4 || (qs & (qs - 1)) != 0 || qs > kMaxQueueSize)
    return fail(EINVAL, "virtio-blk {}: queue size {} is not a power of two in [4, {}]",
                config.drive_id, qs, kMaxQueueSize);
  if (config.max_in_flight == 0)
    return fail(EINVAL, "virtio-blk {}: max_in_flight must be positive", config.drive_id);
  if (backend->size() < blk::kSectorSize)
    return fail(EINVAL, "virtio-blk {}: disk smaller than one sector", config.drive_id);
  auto logic = std::make_unique<blk::BlockLogic>(config, std::move(backend), ctx.memory, ctx.thread_nice);
  auto dev = TRY(MmioTransport::create(std::move(logic), std::move(ctx), config.max_in_flight,
                                       config.poll_us));
  return std::shared_ptr<VirtioMmioDevice>(std::move(dev));
}

Result<std::unique_ptr<block::BlockBackend>> open_block_image(const BlockConfig& config) {
  block::OpenOptions options;
  options.read_only = config.read_only;
  options.backing = config.backing;
  options.allowed_backing = config.allowed_backing;
  options.probe_backing_format = false;  // vessel-vmm never guesses a format
  options.unsafe_cache = config.unsafe_cache;
  options.lock = !(config.defer_lock && !config.read_only);
  return block::open_backend(config.path, config.format, options);
}

Result<std::shared_ptr<VirtioMmioDevice>> create_block(const BlockConfig& config,
                                                       DeviceContext ctx) {
  auto backend = TRY_CTX(open_block_image(config), "virtio-blk drive {}", config.drive_id);
  return create_block_with_backend(config, std::move(backend), std::move(ctx));
}

}  // namespace vessel::vmm::virtio
