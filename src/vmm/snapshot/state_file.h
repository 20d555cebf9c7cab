// The container of a snapshot's state file (docs/vmm/snapshot.md, "State file"):
//
//   header   magic "VSLSNAP1" (8 bytes), format version (u32), section count (u32),
//            content length (u64)
//   content  sections, each: id (u32), version (u32), length (u64), that many bytes
//   trailer  CRC-64/XZ (u64) of header and content
//
// All little-endian. Each section carries its own version so that a later vessel-vmm can read
// what an earlier one wrote; the format version changes only when this framing does. parse()
// checks the whole framing and the checksum before anyone looks inside a section.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"

namespace vessel::vmm::snapshot {

inline constexpr char kMagic[8] = {'V', 'S', 'L', 'S', 'N', 'A', 'P', '1'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint64_t kMaxStateFileBytes = 64ull << 20;
inline constexpr uint32_t kMaxSections = 4096;

struct Section {
  uint32_t id = 0;
  uint32_t version = 0;
  std::vector<uint8_t> bytes;
};

std::vector<uint8_t> serialize(const std::vector<Section>& sections);
Result<std::vector<Section>> parse(std::span<const uint8_t> file);

// Reads a state file (a regular file of at most kMaxStateFileBytes) for parse().
Result<std::vector<uint8_t>> read_state_file(const std::string& path);

}  // namespace vessel::vmm::snapshot
