// Fuzz target: the virtio-net frame parsers on chains walked from fuzzed guest RAM. Whatever
// parse_tx accepts must satisfy what the device relies on before its writev() to the tap: every
// view inside guest RAM, header + payload == the chain's readable bytes, at most
// kMaxFrameWithHeader in all, and a header whose offloads were negotiated and whose checksum
// offsets lie inside the frame. parse_rx + copy_to_buffers (the receive path) must never write
// outside the chain's buffers (ASan) nor beyond their capacity.
// Input: u16 head, u16 flags (bit 0: indirect descriptors), u32 negotiated features (low half),
// then guest RAM; the descriptor table (64 entries) is at 0x400.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_memory.h"
#include "vmm/devices/virtio/net/net_frame.h"

using namespace vessel::vmm;
using namespace vessel::vmm::virtio;
using namespace vessel::vmm::virtio::net;

namespace {

bool inside_ram(const GuestMemory& mem, const iovec& v) {
  auto* p = static_cast<const uint8_t*>(v.iov_base);
  const uint8_t* base = mem.host_base();
  return p >= base && v.iov_len <= fuzz::kFuzzRam && p + v.iov_len <= base + fuzz::kFuzzRam;
}

void check_tx(const GuestMemory& mem, const DescriptorChain& chain, uint64_t features) {
  auto frame = parse_tx(mem, chain, features);
  if (!frame) return;
  uint64_t total = 0;
  for (const auto& v : frame->payload) {
    fuzz::check(inside_ram(mem, v));
    total += v.iov_len;
  }
  fuzz::check(total == frame->frame_len);
  fuzz::check(frame->frame_len + kHeaderSize == chain.readable_bytes);
  fuzz::check(chain.writable_bytes == 0);
  fuzz::check(chain.readable_bytes <= kMaxFrameWithHeader);
  fuzz::check(frame->frame_len >= kEthHeaderSize);
  const NetHeader& h = frame->header;
  fuzz::check((h.flags & ~(kHdrFlagNeedsCsum | kHdrFlagDataValid)) == 0);
  if (h.flags & kHdrFlagNeedsCsum) {
    fuzz::check(features & kFeatureCsum);
    fuzz::check(uint32_t(h.csum_start) + h.csum_offset + 2 <= frame->frame_len);
  }
  if (h.gso_type != kGsoNone) fuzz::check(h.gso_size > 0 && (h.flags & kHdrFlagNeedsCsum));
  if (h.gso_type == kGsoTcpV4) fuzz::check(features & kFeatureHostTso4);
  if (h.gso_type == kGsoTcpV6) fuzz::check(features & kFeatureHostTso6);
  if (h.gso_type == kGsoUdp) fuzz::check(features & kFeatureHostUfo);
  fuzz::check(h.gso_type == kGsoNone || h.gso_type == kGsoTcpV4 || h.gso_type == kGsoTcpV6 ||
              h.gso_type == kGsoUdp);
}

void check_rx(const GuestMemory& mem, const DescriptorChain& chain) {
  auto rx = parse_rx(mem, chain);
  if (!rx) return;
  uint64_t total = 0;
  for (const auto& v : rx->buffers) {
    fuzz::check(inside_ram(mem, v));
    total += v.iov_len;
  }
  fuzz::check(total == rx->capacity);
  fuzz::check(rx->capacity >= kHeaderSize && rx->capacity <= kMaxFrameWithHeader);
  fuzz::check(chain.readable_bytes == 0);
  static std::vector<uint8_t> frame(kMaxFrameWithHeader, 0xab);
  uint32_t n = copy_to_buffers(*rx, 0, frame.data(), kMaxFrameWithHeader);
  fuzz::check(n == rx->capacity);
  fuzz::check(copy_to_buffers(*rx, rx->capacity, frame.data(), 100) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint16_t head, flags;
  uint32_t features;
  std::memcpy(&head, data, 2);
  std::memcpy(&flags, data + 2, 2);
  std::memcpy(&features, data + 4, 4);
  const GuestMemory& mem = fuzz::fuzz_memory(data, size);
  QueueLayout layout{64, 0x400, 0x800, 0xa00};
  auto chain = parse_chain(mem, layout, head % 64, flags & 1);
  if (!chain) return 0;
  check_tx(mem, *chain, features);
  check_rx(mem, *chain);
  return 0;
}
