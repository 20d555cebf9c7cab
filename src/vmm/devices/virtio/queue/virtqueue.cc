#include "vmm/devices/virtio/queue/virtqueue.h"

#include <atomic>

#include <fmt/format.h>

namespace vessel::vmm::virtio {
namespace {

struct RawDescriptor {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(RawDescriptor) == 16);

struct UsedElement {
  uint32_t id;
  uint32_t len;
};

template <typename... Args>
tl::unexpected<QueueFault> fault(GuestErrorKind kind, bool ring_broken,
                                 fmt::format_string<Args...> format, Args&&... args) {
  return tl::unexpected<QueueFault>(
      QueueFault{kind, ring_broken, fmt::format(format, std::forward<Args>(args)...)});
}

// Ring indices are shared with the vCPUs: read and publish them with acquire/release ordering
// (the ring layout was validated, so the slices cannot fail after validate_layout).
uint16_t load_acquire_u16(const GuestMemory& memory, GuestAddress addr) {
  auto s = memory.slice(addr, 2);
  if (!s) return 0;
  return __atomic_load_n(reinterpret_cast<uint16_t*>(s->data()), __ATOMIC_ACQUIRE);
}

void store_release_u16(const GuestMemory& memory, GuestAddress addr, uint16_t value) {
  auto s = memory.slice(addr, 2);
  if (!s) return;
  __atomic_store_n(reinterpret_cast<uint16_t*>(s->data()), value, __ATOMIC_RELEASE);
}

}  // namespace

const char* guest_error_name(GuestErrorKind kind) {
  switch (kind) {
    case GuestErrorKind::RingAddress: return "ring_address";
    case GuestErrorKind::QueueSize: return "queue_size";
    case GuestErrorKind::AvailIndex: return "avail_index";
    case GuestErrorKind::HeadIndex: return "head_index";
    case GuestErrorKind::NextIndex: return "next_index";
    case GuestErrorKind::DescriptorLoop: return "descriptor_loop";
    case GuestErrorKind::IndirectTable: return "indirect_table";
    case GuestErrorKind::NestedIndirect: return "nested_indirect";
    case GuestErrorKind::IndirectNotNegotiated: return "indirect_not_negotiated";
    case GuestErrorKind::BufferOutOfRam: return "buffer_out_of_ram";
    case GuestErrorKind::LengthOverflow: return "length_overflow";
    case GuestErrorKind::WriteBeforeRead: return "write_before_read";
    case GuestErrorKind::BadRequest: return "bad_request";
    case GuestErrorKind::Count: break;
  }
  return "unknown";
}

QueueResult<void> validate_layout(const GuestMemory& memory, const QueueLayout& l,
                                  uint16_t max_size) {
  if (l.size == 0 || (l.size & (l.size - 1)) != 0 || l.size > max_size)
    return fault(GuestErrorKind::QueueSize, true,
                 "queue size {} is not a power of two in [1, {}]", l.size, max_size);
  uint64_t n = l.size;
  if (l.desc % 16 || l.avail % 2 || l.used % 4)
    return fault(GuestErrorKind::RingAddress, true,
                 "misaligned ring: desc {:#x} avail {:#x} used {:#x}", l.desc, l.avail, l.used);
  if (!memory.contains(l.desc, 16 * n))
    return fault(GuestErrorKind::RingAddress, true, "descriptor table {:#x} outside RAM", l.desc);
  if (!memory.contains(l.avail, 6 + 2 * n))
    return fault(GuestErrorKind::RingAddress, true, "available ring {:#x} outside RAM", l.avail);
  if (!memory.contains(l.used, 6 + 8 * n))
    return fault(GuestErrorKind::RingAddress, true, "used ring {:#x} outside RAM", l.used);
  return {};
}

QueueResult<DescriptorChain> parse_chain(const GuestMemory& memory, const QueueLayout& layout,
                                         uint16_t head, bool indirect_allowed) {
  if (head >= layout.size)
    return fault(GuestErrorKind::HeadIndex, true, "head index {} >= queue size {}", head,
                 layout.size);
  DescriptorChain chain;
  chain.head = head;
  GuestAddress table = layout.desc;
  uint32_t table_size = layout.size;
  bool in_indirect = false;
  uint32_t index = head;
  uint32_t walked = 0;
  bool seen_writable = false;  // by flag, not by bytes: a zero-length writable one counts too
  for (;;) {
    // A chain can hold at most table_size descriptors: one more means the guest made a loop.
    if (++walked > table_size)
      return fault(GuestErrorKind::DescriptorLoop, true,
                   "descriptor chain from head {} is longer than its table ({})", head,
                   table_size);
    auto raw = memory.read_obj<RawDescriptor>(table + 16ull * index);
    if (!raw)
      return fault(GuestErrorKind::RingAddress, true, "descriptor {} unreadable", index);
    const RawDescriptor d = *raw;
    if (d.flags & kDescFlagIndirect) {
      if (in_indirect)
        return fault(GuestErrorKind::NestedIndirect, true, "nested indirect descriptor");
      if (!indirect_allowed)
        return fault(GuestErrorKind::IndirectNotNegotiated, true,
                     "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
      if (d.flags & kDescFlagNext)
        return fault(GuestErrorKind::IndirectTable, true, "indirect descriptor with NEXT set");
      if (d.len == 0 || d.len % 16 != 0 || d.len / 16 > layout.size)
        return fault(GuestErrorKind::IndirectTable, true,
                     "indirect table length {} is not a multiple of 16 in [16, 16*{}]", d.len,
                     layout.size);
      if (d.addr % 16 != 0 || !memory.contains(d.addr, d.len))
        return fault(GuestErrorKind::IndirectTable, true,
                     "indirect table [{:#x}, +{:#x}) misaligned or outside RAM", d.addr, d.len);
      table = d.addr;
      table_size = d.len / 16;
      in_indirect = true;
      index = 0;
      walked = 0;
      continue;
    }
    bool writes = d.flags & kDescFlagWrite;
    if (!memory.contains(d.addr, d.len))
      return fault(GuestErrorKind::BufferOutOfRam, false, "buffer [{:#x}, +{:#x}) outside RAM",
                   d.addr, d.len);
    if (!writes && seen_writable)
      return fault(GuestErrorKind::WriteBeforeRead, false,
                   "device-readable descriptor after a device-writable one");
    seen_writable |= writes;
    (writes ? chain.writable_bytes : chain.readable_bytes) += d.len;
    if (chain.readable_bytes + chain.writable_bytes > UINT32_MAX)
      return fault(GuestErrorKind::LengthOverflow, false, "chain length above 4 GiB");
    chain.descriptors.push_back({d.addr, d.len, writes});
    if (!(d.flags & kDescFlagNext)) break;
    if (d.next >= table_size)
      return fault(GuestErrorKind::NextIndex, true, "next index {} >= table size {}", d.next,
                   table_size);
    index = d.next;
  }
  return chain;
}

// EVENT_IDX: "notify me once you make chain next_avail_ available" (avail_event, after the used
// ring), then a full fence so that the re-read of avail.idx that follows cannot miss a chain the
// driver added before it saw the new value.
void Virtqueue::publish_avail_event() {
  (void)memory_->write_obj<uint16_t>(layout_.used + 4 + 8ull * layout_.size, next_avail_);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

QueueResult<std::optional<Virtqueue::Popped>> Virtqueue::pop() {
  uint16_t avail_idx = load_acquire_u16(*memory_, layout_.avail + 2);
  uint16_t pending = static_cast<uint16_t>(avail_idx - next_avail_);
  if (pending == 0 && event_idx_ && !polling_) {
    publish_avail_event();
    avail_idx = load_acquire_u16(*memory_, layout_.avail + 2);
    pending = static_cast<uint16_t>(avail_idx - next_avail_);
  }
  if (pending == 0) return std::optional<Popped>();
  if (pending > layout_.size)
    return fault(GuestErrorKind::AvailIndex, true,
                 "avail.idx {} is {} ahead of the device (queue size {})", avail_idx, pending,
                 layout_.size);
  uint16_t head =
      load_acquire_u16(*memory_, layout_.avail + 4 + 2ull * (next_avail_ % layout_.size));
  ++next_avail_;
  auto chain = parse_chain(*memory_, layout_, head, indirect_allowed_);
  if (!chain && chain.error().ring_broken) return tl::unexpected<QueueFault>(chain.error());
  return std::optional<Popped>(Popped{head, std::move(chain)});
}

Result<void> Virtqueue::complete(uint16_t head, uint32_t written) {
  UsedElement e{head, written};
  TRY(memory_->write_obj(layout_.used + 4 + 8ull * (next_used_ % layout_.size), e));
  ++next_used_;
  store_release_u16(*memory_, layout_.used + 2, next_used_);
  return {};
}

bool Virtqueue::has_pending() const {
  return memory_ && load_acquire_u16(*memory_, layout_.avail + 2) != next_avail_;
}

void Virtqueue::set_no_notify(bool on) {
  if (!memory_) return;
  if (event_idx_) {  // the driver ignores the flag: avail_event does the job
    polling_ = on;
    if (!on) publish_avail_event();
    return;
  }
  store_release_u16(*memory_, layout_.used, on ? kUsedFlagNoNotify : 0);
  // The flag store must be visible before we look at avail.idx again (see the header).
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

bool Virtqueue::should_interrupt() const {
  // The used index store must be visible before we read the driver's flags (spec 2.7.7.2).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) return !(load_acquire_u16(*memory_, layout_.avail) & kAvailFlagNoInterrupt);
  // vring_need_event(used_event, new, old): has the used index crossed used_event in (old, new]?
  uint16_t old_used = signalled_used_, new_used = next_used_;
  signalled_used_ = new_used;
  auto event = memory_->read_obj<uint16_t>(layout_.avail + 4 + 2ull * layout_.size);
  if (!event) return true;  // unreadable: interrupt rather than stall the driver
  return static_cast<uint16_t>(new_used - *event - 1) < static_cast<uint16_t>(new_used - old_used);
}

}  // namespace vessel::vmm::virtio
