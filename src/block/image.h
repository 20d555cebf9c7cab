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
// the image that names them. Text only: no check of where it leads.
std::string resolve_backing(const std::string& image_path, const std::string& backing);

// The path of the backing file that `image_path` names as `backing`, when options.backing allows
// the image to bring it in (BackingPolicy); EPERM naming the image and the name otherwise, ENOENT
// when the file is missing. Inside and Listed look at the file and return its real path (symbolic
// links resolved), which is what gets opened; Follow returns the name resolved as QEMU does.
Result<std::string> backing_path(const std::string& image_path, const std::string& backing,
                                 const OpenOptions& options);
const char* policy_name(BackingPolicy p);
Result<BackingPolicy> parse_backing_policy(const std::string& name);

// Opens an image and its whole backing chain (read-only below the top), following only the
// backing files options.backing allows. Loops and chains deeper than kMaxChainDepth are errors
// (ELOOP). With `no_backing` the chain is not opened and
// unallocated clusters read as zeros (rebase -u, commit).
Result<std::unique_ptr<BlockBackend>> open_image(const std::string& path, Format format,
                                                 const OpenOptions& options, bool no_backing = false);

}  // namespace vessel::block
