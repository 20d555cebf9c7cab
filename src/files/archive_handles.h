// Owning handles for libarchive's writer and entries (what tar_pack and vesseld's archive writers
// share): freed with the right call whatever path a function leaves by.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace vessel::files {

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveEntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteFree>;
using ArchiveEntry = std::unique_ptr<archive_entry, ArchiveEntryFree>;

}  // namespace vessel::files
