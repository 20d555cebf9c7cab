// Unpacks one layer tar (plain, gzip or zstd) into a directory, as overlayfs wants it: OCI
// whiteouts (.wh.NAME) become 0/0 character devices, opaque markers (.wh..wh..opq) the
// trusted.overlay.opaque xattr. The layer is hostile: every path of every entry (regular files,
// directories, symlinks, hardlinks and their targets, device nodes, whiteouts, opaque markers,
// xattrs) is resolved inside the target with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
// so a symlink the layer planted never leads a later entry onto the host.
#pragma once

#include <optional>
#include <string>

#include "base/error.h"
#include "daemon/spec/id_range.h"

namespace vessel::daemon {

// `target` is created (it must not exist yet, or be an empty directory). `userns`: the archive's
// ids are a user namespace's, written as the host ids of that range (an id outside it is an error).
Result<void> unpack_layer(const std::string& tar, const std::string& target,
                          const std::optional<IdRange>& userns = std::nullopt);

}  // namespace vessel::daemon
