#include "vmm/devices/virtio/balloon/balloon_request.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

namespace vessel::vmm::virtio::balloon {
namespace {

// The chain's device-readable bytes, in order, at most `max` of them (more: EINVAL).
Result<std::vector<uint8_t>> readable_bytes(const GuestMemory& memory, const DescriptorChain& chain, uint64_t max,
                                            const char* what) {
  if (chain.readable_bytes > max)
    return fail(EINVAL, "virtio-balloon: {} request of {} bytes (at most {})", what, chain.readable_bytes, max);
  std::vector<uint8_t> out(chain.readable_bytes);
  size_t at = 0;
  for (const auto& d : chain.descriptors) {
    if (d.device_writes) continue;
    TRY(memory.read(d.addr, out.data() + at, d.len));
    at += d.len;
  }
  return out;
}

// Sorted, merged runs of pages, each checked inside guest RAM.
Result<PageRequest> to_ranges(const GuestMemory& memory, std::vector<std::pair<uint64_t, uint64_t>> runs) {
  std::sort(runs.begin(), runs.end());
  PageRequest req;
  std::vector<std::pair<uint64_t, uint64_t>> merged;  // [first page, end page)
  for (const auto& [first, end] : runs) {
    if (!merged.empty() && first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, end);
    else
      merged.emplace_back(first, end);
  }
  for (const auto& [first, end] : merged) {
    uint64_t len = (end - first) << kPageShift;
    auto span = memory.slice(first << kPageShift, len);
    if (!span)
      return fail(EFAULT, "virtio-balloon: pages {:#x}+{:#x} are not inside guest RAM", first << kPageShift, len);
    req.ranges.push_back({span->data(), len});
    req.pages += end - first;
  }
  return req;
}

}  // namespace

Result<PageRequest> parse_pfn_request(const GuestMemory& memory, const DescriptorChain& chain) {
  auto bytes = TRY(readable_bytes(memory, chain, kMaxPfnsPerRequest * 4, "page"));
  if (bytes.size() % 4 != 0)
    return fail(EINVAL, "virtio-balloon: page request of {} bytes is not a whole number of PFNs", bytes.size());
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  runs.reserve(bytes.size() / 4);
  for (size_t i = 0; i < bytes.size(); i += 4) {
    uint32_t pfn;
    std::memcpy(&pfn, bytes.data() + i, 4);  // little-endian, as the host
    runs.emplace_back(pfn, uint64_t{pfn} + 1);
  }
  return to_ranges(memory, std::move(runs));
}

Result<PageRequest> parse_report_request(const GuestMemory& memory, const DescriptorChain& chain) {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for (const auto& d : chain.descriptors) {
    if (d.len == 0) continue;
    if (d.addr % kPageSize != 0 || d.len % kPageSize != 0)
      return fail(EINVAL, "virtio-balloon: reported range {:#x}+{:#x} is not made of whole 4 KiB pages", d.addr, d.len);
    uint64_t first = d.addr >> kPageShift;
    runs.emplace_back(first, first + (d.len >> kPageShift));  // addr < 2^64: no overflow after the shift
  }
  return to_ranges(memory, std::move(runs));
}

Result<uint64_t> discard(const PageRequest& request) {
  uint64_t bytes = 0;
  for (const auto& r : request.ranges) {
    if (::madvise(r.host, r.len, MADV_DONTNEED) != 0) return fail_errno("madvise(MADV_DONTNEED) on {} bytes of guest RAM", r.len);
    bytes += r.len;
  }
  return bytes;
}

Result<Stats> parse_stats(const GuestMemory& memory, const DescriptorChain& chain) {
  auto bytes = TRY(readable_bytes(memory, chain, kMaxStatEntries * kStatSize, "statistics"));
  if (bytes.size() % kStatSize != 0)
    return fail(EINVAL, "virtio-balloon: statistics of {} bytes are not whole 10-byte entries", bytes.size());
  Stats stats;
  for (size_t i = 0; i < bytes.size(); i += kStatSize) {
    uint16_t tag;
    uint64_t value;
    std::memcpy(&tag, bytes.data() + i, 2);
    std::memcpy(&value, bytes.data() + i + 2, 8);
    if (tag < kNumStatTags) stats.values[tag] = value;
  }
  return stats;
}

}  // namespace vessel::vmm::virtio::balloon
