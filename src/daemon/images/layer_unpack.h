// Unpacks one layer tar (plain, gzip or zstd) into a directory, as overlayfs wants it: OCI
// whiteouts (.wh.NAME) become 0/0 character devices, opaque markers (.wh..wh..opq) the
// trusted.overlay.opaque xattr. The layer is hostile: every path of every entry (regular files,
// directories, symlinks, hardlinks and their targets, device nodes, whiteouts, opaque markers,
// xattrs) is resolved inside the target with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
// so a symlink the layer planted never leads a later entry onto the host.
#pragma once

#include <string>

#include "base/error.h"

namespace vessel::daemon {

// `target` is created (it must not exist yet, or be an empty directory).
Result<void> unpack_layer(const std::string& tar, const std::string& target);

}  // namespace vessel::daemon
