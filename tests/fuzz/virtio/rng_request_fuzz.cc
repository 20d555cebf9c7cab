// Fuzz target: the virtio-rng request parser on chains walked from fuzzed guest RAM, then the
// fill the device does. Whatever it accepts must satisfy what the device relies on: buffers
// within guest RAM, only the chain's device-writable bytes, at most kMaxBytesPerRequest in all,
// and a length that is the sum of the buffers (the used length the guest is told).
// Input: u16 head, u16 flags (bit 0: indirect descriptors negotiated), then guest RAM; the
// descriptor table (64 entries) is at 0x400.
#include <cstdint>
#include <cstring>

#include "fuzz_memory.h"
#include "vmm/devices/virtio/rng/rng_request.h"

using namespace vessel::vmm;
using namespace vessel::vmm::virtio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint16_t head, flags;
  std::memcpy(&head, data, 2);
  std::memcpy(&flags, data + 2, 2);
  const GuestMemory& mem = fuzz::fuzz_memory(data, size);
  QueueLayout layout{64, 0x400, 0x800, 0xa00};
  auto chain = parse_chain(mem, layout, head % 64, flags & 1);
  if (!chain) return 0;
  auto req = rng::parse_request(mem, *chain);
  if (!req) return 0;
  uint64_t total = 0;
  const uint8_t* base = mem.host_base();
  for (const auto& v : req->buffers) {
    auto* p = static_cast<const uint8_t*>(v.iov_base);
    fuzz::check(v.iov_len > 0);
    fuzz::check(p >= base && v.iov_len <= fuzz::kFuzzRam && p + v.iov_len <= base + fuzz::kFuzzRam);
    total += v.iov_len;
  }
  fuzz::check(total == req->len);
  fuzz::check(req->len <= rng::kMaxBytesPerRequest);
  fuzz::check(req->len <= chain->writable_bytes);
  // The device's own step: every accepted byte written (ASan catches a bad iovec).
  fuzz::check(rng::fill_request(*req).has_value());
  return 0;
}
