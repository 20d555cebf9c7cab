#include "vmm/snapshot/crc64.h"

#include <array>

namespace vessel::vmm::snapshot {
namespace {

constexpr uint64_t kPolyReflected = 0xc96c5795d7870f42ull;

constexpr std::array<uint64_t, 256> make_table() {
  std::array<uint64_t, 256> t{};
  for (uint64_t i = 0; i < 256; ++i) {
    uint64_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolyReflected : c >> 1;
    t[i] = c;
  }
  return t;
}

constexpr std::array<uint64_t, 256> kTable = make_table();

}  // namespace

// `crc` continues an earlier call's result (0 to start).
uint64_t crc64(std::span<const uint8_t> bytes, uint64_t crc) {
  crc = ~crc;
  for (uint8_t b : bytes) crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace vessel::vmm::snapshot
