#include "daemon/images/tar_reader.h"

namespace vessel::daemon {

const char* archive_error(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown error";
}

Result<TarReader> open_tar(const std::string& path) {
  TarReader a(archive_read_new());
  if (!a) return fail(ENOMEM, "cannot allocate a tar reader");
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_none(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    // An open that failed has its errno (the cause: no such file, no permission); a file that is
    // not a tar has only libarchive's words (its errno then is EILSEQ, a misuse EINVAL, else -1).
    int errnum = archive_errno(a.get());
    if (errnum > 0 && errnum != EILSEQ && errnum != EINVAL)
      return Unexpected(Error::system(errnum, fmt::format("cannot read {}", path)));
    return fail(EINVAL, "cannot read {}: {}", path, archive_error(a.get()));
  }
  return a;
}

}  // namespace vessel::daemon
