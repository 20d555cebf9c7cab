// Consistency check of a qcow2 image, as `qemu-img check` does it: every cluster's refcount is
// compared with the references found by walking the header, tables and L2 entries.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace vessel::block::qcow2 {

enum class Repair { None, Leaks, All };

struct CheckReport {
  uint64_t corruptions = 0;
  uint64_t leaks = 0;
  uint64_t check_errors = 0;
  uint64_t corruptions_fixed = 0;
  uint64_t leaks_fixed = 0;
  uint64_t total_clusters = 0;      // guest clusters
  uint64_t allocated_clusters = 0;  // guest clusters mapped in this layer
  uint64_t fragmented_clusters = 0;
  uint64_t compressed_clusters = 0;
  uint64_t image_end_offset = 0;
  std::vector<std::string> messages;  // "ERROR ..." and "Leaked cluster ..." lines
};

// Walks the image. Errors that stop the walk (unreadable header) are returned as Error.
// -r takes a writer's image lock, a plain check a reader's (none that excludes writers with force_share).
Result<CheckReport> check(const std::string& path, Repair repair, bool force_share = false);

}  // namespace vessel::block::qcow2
