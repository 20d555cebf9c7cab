// Opening images with their backing chains, probing formats of read-only layers, format names.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "block/block_backend.h"

namespace vessel::block {

inline constexpr int kMaxChainDepth = 64;

const char* format_name(Format f);
Result<Format> parse_format(const std::string& name);
// Looks at the magic: qcow2 or raw. Only for read-only layers and for `info`: writable disks
// are never probed.
Result<Format> probe_format(const std::string& path);

// Resolves a backing file name as QEMU does: relative names are relative to the directory of
// the image that names them.
std::string resolve_backing(const std::string& image_path, const std::string& backing);

// Opens an image and its whole backing chain (read-only below the top). Loops and chains
// deeper than kMaxChainDepth are errors (ELOOP). With `no_backing` the chain is not opened and
// unallocated clusters read as zeros (rebase -u, commit).
Result<std::unique_ptr<BlockBackend>> open_image(const std::string& path, Format format,
                                                 const OpenOptions& options, bool no_backing = false);

}  // namespace vessel::block
