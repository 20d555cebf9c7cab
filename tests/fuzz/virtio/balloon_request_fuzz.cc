// Fuzz target: the virtio-balloon request parsers (inflate/deflate PFN arrays, free page reports,
// statistics) on chains walked from fuzzed guest RAM, then the discard the device does. What they
// accept must satisfy what the device relies on: whole 4 KiB pages inside guest RAM, sorted and
// not overlapping, the page count their sum, at most kMaxPfnsPerRequest PFNs.
// Input: u16 head, u16 flags (bit 0: indirect descriptors negotiated; bits 1-2: 0 inflate,
// 1 report, 2 statistics), then guest RAM; the descriptor table (64 entries) is at 0x400.
#include <cstdint>
#include <cstring>

#include "fuzz_memory.h"
#include "vmm/devices/virtio/balloon/balloon_request.h"

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
  unsigned kind = (flags >> 1) & 3;
  if (kind == 2) {
    auto stats = balloon::parse_stats(mem, *chain);
    if (stats) fuzz::check(chain->readable_bytes % balloon::kStatSize == 0);
    return 0;
  }
  auto req = kind == 1 ? balloon::parse_report_request(mem, *chain) : balloon::parse_pfn_request(mem, *chain);
  if (!req) return 0;
  const uint8_t* base = mem.host_base();
  const uint8_t* prev_end = base;
  uint64_t pages = 0;
  for (const auto& r : req->ranges) {
    fuzz::check(r.len > 0 && r.len % balloon::kPageSize == 0);
    fuzz::check(r.host >= prev_end && r.host < base + fuzz::kFuzzRam);  // sorted, apart, inside
    fuzz::check(static_cast<uint64_t>(r.host - base) % balloon::kPageSize == 0);
    fuzz::check(r.len <= fuzz::kFuzzRam && r.host + r.len <= base + fuzz::kFuzzRam);
    prev_end = r.host + r.len;
    pages += r.len / balloon::kPageSize;
  }
  fuzz::check(pages == req->pages);
  if (kind == 0) fuzz::check(req->pages <= balloon::kMaxPfnsPerRequest);
  // The device's own step: every accepted range given back (ASan catches a bad one).
  auto bytes = balloon::discard(*req);
  fuzz::check(bytes.has_value() && *bytes == pages * balloon::kPageSize);
  return 0;
}
