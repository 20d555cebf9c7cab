// The allocation walk shared by map, convert and compare (ops/map.cc).
#pragma once

#include "block/block_backend.h"

namespace vessel::block {

// Whether [off, off+len) reads as zeros, known from metadata alone (no data read).
Result<bool> known_zero(BlockBackend* b, uint64_t off, uint64_t len);

}  // namespace vessel::block
