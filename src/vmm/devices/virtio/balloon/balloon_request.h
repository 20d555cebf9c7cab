// virtio-balloon requests (virtio 1.2, section 5.5.6): parse, then process. Every buffer the
// driver hands over is read through GuestMemory and every page it names is checked against guest
// RAM before anything is given back to the host (discard()). Pure functions of guest memory but
// discard(): the fuzz target (tests/fuzz/virtio/balloon_fuzz.cc) calls them directly.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/error.h"
#include "vmm/devices/virtio/queue/virtqueue.h"

namespace vessel::vmm::virtio::balloon {

inline constexpr uint64_t kPageShift = 12;  // VIRTIO_BALLOON_PFN_SHIFT: balloon pages are 4 KiB
inline constexpr uint64_t kPageSize = 1ull << kPageShift;
// Linux sends at most 256 PFNs per request; more is refused (bounds one request's work).
inline constexpr uint64_t kMaxPfnsPerRequest = 4096;
inline constexpr size_t kStatSize = 10;       // struct virtio_balloon_stat: le16 tag, le64 value
inline constexpr size_t kMaxStatEntries = 64;  // the spec has 16 tags; a driver repeats none
inline constexpr size_t kNumStatTags = 16;

// A run of whole guest pages, checked to lie inside guest RAM, as the host sees it.
struct HostRange {
  uint8_t* host = nullptr;
  uint64_t len = 0;
};

struct PageRequest {
  std::vector<HostRange> ranges;  // sorted, each run of contiguous pages merged
  uint64_t pages = 0;             // distinct 4 KiB pages named
};

// Inflate or deflate queue: the chain's device-readable bytes are an array of le32 page frame
// numbers. EINVAL for a length that is not a multiple of 4 or above kMaxPfnsPerRequest entries;
// EFAULT for a page outside guest RAM (the whole request is refused then).
Result<PageRequest> parse_pfn_request(const GuestMemory& memory, const DescriptorChain& chain);

// Free page reporting queue: each descriptor is itself a range of free guest memory (4 KiB aligned).
Result<PageRequest> parse_report_request(const GuestMemory& memory, const DescriptorChain& chain);

// Gives the pages' host memory back (madvise MADV_DONTNEED: guest RAM is a private mapping, anonymous
// or of a snapshot's memory file, so the pages are dropped and read as zeros, or the file's bytes,
// when touched again). Returns how many bytes were given back.
Result<uint64_t> discard(const PageRequest& request);

// The statistics queue's buffer: tag/value pairs, by tag (virtio 1.2, 5.5.6.3). Unknown tags are
// ignored; a tag given twice keeps its last value.
struct Stats {
  std::array<std::optional<uint64_t>, kNumStatTags> values{};
};
Result<Stats> parse_stats(const GuestMemory& memory, const DescriptorChain& chain);

}  // namespace vessel::vmm::virtio::balloon
