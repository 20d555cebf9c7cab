// libarchive's reader over a tar file (plain, gzip or zstd), as a move-only handle.
#pragma once

#include <archive.h>

#include <memory>
#include <string>

#include "base/error.h"

namespace vessel::daemon {

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using TarReader = std::unique_ptr<archive, ArchiveReadFree>;

Result<TarReader> open_tar(const std::string& path);

// libarchive's last error on `a`, never null.
const char* archive_error(archive* a);

}  // namespace vessel::daemon
