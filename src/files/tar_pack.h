// A tar (pax) of a file or a directory tree inside a root: what GET .../archive answers and what
// `vessel cp` sends. The path is resolved inside the root (ConfinedRoot: a symlink never leads
// out), then the tree is walked with *at calls that follow no symlink: links are archived as
// links. Sockets are skipped; hard links are archived as separate files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "base/error.h"
#include "files/confined_root.h"
#include "files/path_stat.h"

namespace vessel::files {

// Ids as an archive shows them (a container's user namespace: host id minus its base).
using IdMap = std::function<std::pair<int64_t, int64_t>(uid_t, gid_t)>;

struct PackOptions {
  bool follow_link = false;  // -L: a source that is a symlink is followed (inside the root)
  IdMap ids;                 // unset: ids as they are
  std::function<void(uint64_t bytes)> progress;  // file bytes written so far
  // An overlayfs upper directory packed as an OCI layer: a 0/0 character device (a whiteout) is
  // the empty file .wh.NAME, and a directory marked trusted.overlay.opaque gets .wh..wh..opq.
  bool oci_whiteouts = false;
};

// What `rel` is inside `root`; its last component is followed only with `follow_link`.
Result<PathStat> stat_in(const ConfinedRoot& root, const std::string& rel, bool follow_link);

// Writes the tar of `rel` to `out_fd`, its top entry named `top`; `top` "": the directory's
// contents only, with no entry of its own.
Result<void> pack(const ConfinedRoot& root, const std::string& rel, const std::string& top,
                  const PackOptions& options, int out_fd);

}  // namespace vessel::files
