// Fuzz target: the split-virtqueue walk (validate_layout, pop, parse_chain, complete) over guest
// RAM entirely chosen by the input. The first 16 bytes pick the queue layout, head and features;
// the whole input is also the guest RAM image (so rings and descriptors overlap the parameters).
#include <cstdint>
#include <cstring>

#include "fuzz_memory.h"
#include "vmm/devices/virtio/queue/virtqueue.h"

using namespace vessel::vmm;
using namespace vessel::vmm::virtio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 16) return 0;
  uint16_t params[8];
  std::memcpy(params, data, sizeof params);
  const GuestMemory& mem = fuzz::fuzz_memory(data, size);
  QueueLayout layout{params[0], uint64_t(params[1]) * 16, uint64_t(params[2]) * 2,
                     uint64_t(params[3]) * 4};
  bool indirect = params[4] & 1;
  uint16_t max_size = 1024;

  // The pure chain parser on any head, before layout validation (it must not trust either).
  if (layout.size <= max_size) {
    auto c = parse_chain(mem, layout, params[5], indirect);
    if (c) {
      fuzz::check(c->descriptors.size() <= 2ull * layout.size);
      fuzz::check(c->readable_bytes + c->writable_bytes <= UINT32_MAX);
      bool seen_write = false;
      for (const auto& d : c->descriptors) {
        fuzz::check(mem.contains(d.addr, d.len));
        fuzz::check(!(seen_write && !d.device_writes));
        seen_write |= d.device_writes;
      }
    }
  }

  if (!validate_layout(mem, layout, max_size)) return 0;
  Virtqueue q(&mem, layout, indirect);
  // Serve what the ring offers, as a device would, a bounded number of times.
  for (int i = 0; i < 2 * layout.size + 2; ++i) {
    auto p = q.pop();
    if (!p) {
      fuzz::check(p.error().ring_broken);
      break;
    }
    if (!*p) break;
    (void)q.complete((*p)->head, (*p)->chain ? uint32_t((*p)->chain->writable_bytes) : 0);
  }
  return 0;
}
