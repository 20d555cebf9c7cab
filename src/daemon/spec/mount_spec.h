// A container's mounts beyond its image (docs/daemon/volumes.md): a host directory or file bound
// in (-v /host:/ctr, --mount type=bind), a named volume (-v NAME:/ctr, --mount type=volume) or a
// tmpfs (--tmpfs /ctr). The CLI turns Docker's flags into these objects; vesseld validates them.
// A volume without a source (-v /ctr) is anonymous: vesseld names it at create and marks it so;
// it goes with its instance under --rm and `rm -v` (anonymous_volumes.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

enum class MountKind { Bind, Volume, Tmpfs };
std::string_view to_string(MountKind kind);

struct MountSpec {
  MountKind kind = MountKind::Bind;
  std::string source;  // bind: an absolute host path; volume: the volume's name (empty: anonymous, to be named); tmpfs: empty
  std::string target;  // an absolute path in the container, not "/"
  bool read_only = false;
  uint64_t tmpfs_size = 0;     // bytes; 0: the kernel's default (half of the container's RAM)
  uint32_t tmpfs_mode = 01777;
  bool anonymous = false;      // a volume vesseld named for this instance
  friend bool operator==(const MountSpec&, const MountSpec&) = default;
};

// [{"type": "bind"|"volume"|"tmpfs", "source", "target", "read_only", "tmpfs_size", "tmpfs_mode"}]:
// each target once, at most 64 mounts.
Result<std::vector<MountSpec>> parse_mounts(const json::Json& j);
json::Json to_json(const MountSpec& m);

}  // namespace vessel::daemon
