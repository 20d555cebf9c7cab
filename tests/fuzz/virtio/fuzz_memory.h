// Guest RAM for the virtio fuzz targets: one 64 KiB GuestMemory reused across inputs, filled
// with the input bytes (the rest zeroed), so every guest address the input names is checked by
// the real GuestMemory code.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::virtio::fuzz {

inline constexpr uint64_t kFuzzRam = 64 * 1024;

inline const GuestMemory& fuzz_memory(const uint8_t* data, size_t size) {
  static GuestMemory* memory = [] {
    auto m = GuestMemory::create(kFuzzRam);
    if (!m) std::abort();
    return new GuestMemory(std::move(*m));
  }();
  size_t n = size < kFuzzRam ? size : kFuzzRam;
  std::memcpy(memory->host_base(), data, n);
  std::memset(memory->host_base() + n, 0, kFuzzRam - n);
  return *memory;
}

// Aborts (a finding) when an invariant the device relies on is broken.
inline void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace vessel::vmm::virtio::fuzz
