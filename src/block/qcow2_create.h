// Creating empty qcow2 images with the layout QEMU uses: header, refcount table, refcount
// blocks, L1 table, each cluster-aligned and each counted once.
#pragma once

#include <string>

#include "base/error.h"
#include "block/qcow2_format.h"

namespace vessel::block::qcow2 {

struct CreateOptions {
  uint64_t size = 0;
  uint32_t cluster_bits = 16;
  uint32_t version = 3;          // compat=0.10 -> 2, compat=1.1 -> 3
  uint32_t refcount_order = 4;   // refcount_bits = 1 << order
  Compression compression = Compression::Zlib;
  std::string backing_file;      // stored as given
  std::string backing_format;    // "raw" or "qcow2"; empty: none stored
};

// Creates (or truncates) `path` as an empty qcow2 image.
Result<void> create(const std::string& path, const CreateOptions& options);

}  // namespace vessel::block::qcow2
