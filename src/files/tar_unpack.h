// Unpacks a hostile tar into a directory inside a root: PUT .../archive into a container, `vessel
// cp` out of an instance onto the host. Every entry, hard link target and parent directory is
// resolved inside the root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); ".." and NUL
// are refused (entry_path.h); the last component is replaced, never written through (a symlink
// there is removed first). Device nodes only when allowed; xattrs are not restored.
#pragma once

#include <archive.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "files/confined_root.h"

namespace vessel::files {

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ReadFree>;

// A tar (plain, gzip or zstd) in memory (`bytes` must outlive the reader) or on an fd.
Result<ArchiveReader> open_tar_memory(std::string_view bytes);
Result<ArchiveReader> open_tar_fd(int fd);

inline constexpr uint64_t kMaxEntries = 1 << 20;
inline constexpr size_t kMaxLinkTarget = 4096;

struct UnpackOptions {
  // Entries must be `first` or lie under `first/`, which is replaced by `second` ("": the entry
  // `first` itself is skipped and what is under it lands in the directory). Unset: as named.
  std::optional<std::pair<std::string, std::string>> rebase;
  bool chown = true;        // false: files belong to whoever unpacks (a CLI run by a user)
  bool keep_owner = false;  // the archive's ids through `ids` (docker cp -a), else uid/gid
  std::function<Result<std::pair<uid_t, gid_t>>(int64_t uid, int64_t gid)> ids;
  uid_t uid = 0;
  gid_t gid = 0;
  bool allow_devices = false;  // character and block devices (fifos are always fine)
  uint64_t max_entries = kMaxEntries;
  std::function<void(uint64_t bytes)> progress;
};

struct UnpackStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

// Unpacks `in` into the existing directory `dir` (relative to the root; "" the root itself).
Result<UnpackStats> unpack(const ConfinedRoot& root, const std::string& dir, archive* in,
                           const UnpackOptions& options);

}  // namespace vessel::files
