// VM disks through the block layer. A VM image's disks are read-only shared bases kept in the
// image store; each instance gets its own qcow2 overlay on every base (backing file = the base,
// backing format recorded) plus an empty qcow2 for every `size_mib` disk, all under the
// instance's directory so that they go away with the instance. Bases are never written.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {

// A disk as imported into the image store.
struct BaseDisk {
  std::string path;     // absolute, inside the image store, mode 0444
  std::string format;   // "raw" or "qcow2"
  uint64_t size = 0;    // virtual size in bytes
};

json::Json to_json(const BaseDisk& d);
Result<BaseDisk> base_disk_from_json(const json::Json& j);

// Copies `source` (format given; none means raw, never probed, and a disk that begins with a qcow2
// header is then refused: docs/daemon/vm-disks.md) into `dest` as a standalone image of the same
// format: a qcow2 source's backing chain is
// flattened, zeros stay sparse. The copy is made read-only.
// `progress` gets the fraction copied (0..1).
Result<BaseDisk> import_base_disk(const std::string& source, const std::string& format, const std::string& dest,
                                  const std::function<void(double)>& progress = {});

// The disks an instance boots with, in order: one overlay per base, then the spec's own disks
// (host paths as given; `size_mib` ones as the instance's private qcow2). Overlays and new disks
// are created when missing, so this is both the create-time step and the start-time lookup.
Result<std::vector<DiskSpec>> prepare_instance_disks(const InstanceSpec& spec, const std::vector<BaseDisk>& bases,
                                                     const std::string& instance_dir);

}  // namespace vessel::daemon
