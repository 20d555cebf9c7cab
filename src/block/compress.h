// Cluster compression as qcow2 stores it: raw deflate (window 12 bits, as QEMU) or a zstd frame.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/error.h"
#include "block/qcow2_format.h"

namespace vessel::block::qcow2 {

// Compresses one cluster. Returns nullopt when the result would not be smaller than the cluster
// (the caller then stores it uncompressed, as QEMU does).
std::optional<std::vector<uint8_t>> compress_cluster(Compression type, std::span<const uint8_t> in);

// Inflates `in` into exactly out.size() bytes. Trailing input after the stream is ignored (the next
// compressed cluster may share the sector); input that ends early or inflates beyond the cluster is
// an error.
Result<void> decompress_cluster(Compression type, std::span<const uint8_t> in, std::span<uint8_t> out);

}  // namespace vessel::block::qcow2
