// A split virtqueue (virtio 1.2, section 2.7) driven from the device side.
//
// Everything the guest wrote is tainted: ring addresses, indices and descriptors are checked
// before use, and every byte is read through GuestMemory. Errors come in two kinds:
//   * ChainError: one descriptor chain is malformed (buffer outside RAM, lengths overflowing).
//     The device fails that request and carries on.
//   * RingError: the ring itself is broken (avail index running ahead by more than the queue
//     size, a head or `next` index out of range, a descriptor loop, a bad indirect table). The
//     device can no longer trust the queue and enters DEVICE_NEEDS_RESET.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::virtio {

inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;
inline constexpr uint16_t kUsedFlagNoNotify = 1;  // VIRTQ_USED_F_NO_NOTIFY
inline constexpr uint16_t kMaxQueueSize = 32768;  // the spec's limit for split queues

// Kinds of guest mistakes, counted in the device metrics (names used as JSON keys).
enum class GuestErrorKind : uint8_t {
  RingAddress,        // desc/avail/used not aligned or not inside guest RAM
  QueueSize,          // size 0, not a power of two, or above the maximum
  AvailIndex,         // avail.idx ran ahead of the device by more than the queue size
  HeadIndex,          // head index >= queue size
  NextIndex,          // next index >= table size
  DescriptorLoop,     // chain longer than the table
  IndirectTable,      // indirect table length not a multiple of 16, empty, or too long
  NestedIndirect,     // indirect descriptor inside an indirect table
  IndirectNotNegotiated,
  BufferOutOfRam,     // descriptor buffer not inside guest RAM
  LengthOverflow,     // total chain length above 4 GiB
  WriteBeforeRead,    // a device-readable descriptor after a device-writable one
  BadRequest,         // device-level request error (wrong framing, sector range, ...)
  Count
};
const char* guest_error_name(GuestErrorKind kind);

// One descriptor after validation: the buffer lies inside guest RAM.
struct Descriptor {
  GuestAddress addr;
  uint32_t len;
  bool device_writes;
};

struct DescriptorChain {
  uint16_t head = 0;
  std::vector<Descriptor> descriptors;  // device-readable first, then device-writable
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
};

struct QueueFault {
  GuestErrorKind kind;
  bool ring_broken;  // true: the device must enter NEEDS_RESET
  std::string message;
};

template <typename T>
using QueueResult = tl::expected<T, QueueFault>;

// Where a queue lives in guest memory, as the driver configured it.
struct QueueLayout {
  uint16_t size = 0;
  GuestAddress desc = 0;
  GuestAddress avail = 0;
  GuestAddress used = 0;
};

// Checks size (power of two, <= max_size) and ring addresses (alignment 16/2/4, inside RAM).
QueueResult<void> validate_layout(const GuestMemory& memory, const QueueLayout& layout,
                                  uint16_t max_size);

// Walks the chain starting at `head` (already checked < size is NOT assumed). Pure function of
// guest memory: the fuzz target calls it directly.
QueueResult<DescriptorChain> parse_chain(const GuestMemory& memory, const QueueLayout& layout,
                                         uint16_t head, bool indirect_allowed);

class Virtqueue {
 public:
  Virtqueue() = default;
  // `event_idx`: VIRTIO_F_EVENT_IDX was negotiated (spec 2.7.7.2, 2.7.10): the driver's
  // used_event decides interrupts, and the device tells the driver when to notify through
  // avail_event instead of the flags.
  Virtqueue(const GuestMemory* memory, QueueLayout layout, bool indirect_allowed, bool event_idx = false)
      : memory_(memory), layout_(layout), indirect_allowed_(indirect_allowed), event_idx_(event_idx) {}

  const QueueLayout& layout() const { return layout_; }

  // Next available chain, std::nullopt when the ring is empty. A ChainError (ring_broken false)
  // still consumes the head: the caller completes it with `complete(fault_head, 0)`.
  struct Popped {
    uint16_t head;
    QueueResult<DescriptorChain> chain;
  };
  QueueResult<std::optional<Popped>> pop();
  // Puts the chain pop() just returned back at the front of the ring, untouched (a rate limiter
  // said not now). Only right after a successful pop, before complete().
  void undo_pop() { --next_avail_; }

  // Puts `head` on the used ring with `written` bytes and publishes the new used index.
  Result<void> complete(uint16_t head, uint32_t written);

  // True unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT; with EVENT_IDX, true when the used
  // index has passed the driver's used_event since the previous call (each call starts a new
  // window, as vhost's signalled_used).
  bool should_interrupt() const;

  uint16_t next_avail() const { return next_avail_; }
  // True when the driver has made chains available that pop() has not taken yet.
  bool has_pending() const;
  // Sets or clears VIRTQ_USED_F_NO_NOTIFY: while the device polls the ring, the driver may skip
  // the doorbell (spec 2.7.10; Linux honours it). After clearing, check has_pending() again:
  // a chain added just before the driver saw the flag clear comes without a doorbell.
  // With EVENT_IDX: on, pop() stops moving avail_event (the driver's doorbells stop once it has
  // passed it); off, avail_event is brought up to date.
  void set_no_notify(bool on);
  bool event_idx() const { return event_idx_; }

  // How far the device has walked the rings (snapshots; restored into a fresh Virtqueue on the
  // same layout).
  struct Position {
    uint16_t next_avail = 0, next_used = 0, signalled_used = 0;
  };
  Position position() const { return {next_avail_, next_used_, signalled_used_}; }
  void set_position(const Position& p) {
    next_avail_ = p.next_avail;
    next_used_ = p.next_used;
    signalled_used_ = p.signalled_used;
  }

 private:
  const GuestMemory* memory_ = nullptr;
  QueueLayout layout_;
  bool indirect_allowed_ = false;
  bool event_idx_ = false;
  bool polling_ = false;  // set_no_notify(true) with EVENT_IDX: avail_event is left behind
  uint16_t next_avail_ = 0;
  uint16_t next_used_ = 0;
  mutable uint16_t signalled_used_ = 0;  // EVENT_IDX: used index at the last should_interrupt()
  void publish_avail_event();
};

}  // namespace vessel::vmm::virtio
