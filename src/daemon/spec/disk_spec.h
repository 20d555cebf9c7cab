// A disk an instance asks for (part of its spec), and what vessel-vmm is finally given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vessel::daemon {

struct DiskSpec {
  std::string path;       // a raw or qcow2 file on the host; empty with size_mib
  bool read_only = false;
  std::string format;     // "raw" (default) or "qcow2": writable disks are never probed
  uint64_t size_mib = 0;  // > 0 without a path: an empty qcow2 of this size, private to the instance
  // Set by vesseld only (prepare_instance_disks), never from a request: the backing files the
  // overlay it made may use (vessel-vmm follows no other: docs/vmm/api.md).
  std::vector<std::string> backing_files;
};

inline constexpr uint64_t kMaxDiskMib = 1ull << 24;  // 16 TiB

}  // namespace vessel::daemon
