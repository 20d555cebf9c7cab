// Tests only: tar archives built in memory with libarchive, including the hostile entries no
// `tar -c` of a real directory can make (a symlink followed by an entry beneath it, a hardlink
// to an absolute host path, a whiteout under a symlink).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <string>
#include <utility>
#include <vector>

namespace vessel::test {

struct TarEntry {
  enum Kind { File, Dir, Symlink, Hardlink, Fifo } kind = File;
  std::string name;
  std::string content;  // File: the data; Symlink and Hardlink: the target
  unsigned mode = 0;    // 0: 0644 for files, 0755 for directories
  std::vector<std::pair<std::string, std::string>> xattrs;
};

inline TarEntry file(std::string name, std::string content) {
  return {TarEntry::File, std::move(name), std::move(content)};
}
inline TarEntry dir(std::string name) { return {TarEntry::Dir, std::move(name), ""}; }
inline TarEntry symlink(std::string name, std::string target) {
  return {TarEntry::Symlink, std::move(name), std::move(target)};
}
inline TarEntry hardlink(std::string name, std::string target) {
  return {TarEntry::Hardlink, std::move(name), std::move(target)};
}

inline std::string make_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* user, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(user)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.name.c_str());
    archive_entry_set_mtime(e, 1700000000, 0);
    switch (t.kind) {
      case TarEntry::File:
        archive_entry_set_filetype(e, AE_IFREG);
        break;
      case TarEntry::Dir:
        archive_entry_set_filetype(e, AE_IFDIR);
        break;
      case TarEntry::Symlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, t.content.c_str());
        break;
      case TarEntry::Hardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, t.content.c_str());
        break;
      case TarEntry::Fifo:
        archive_entry_set_filetype(e, AE_IFIFO);
        break;
    }
    archive_entry_set_perm(e, t.mode ? t.mode : t.kind == TarEntry::Dir ? 0755 : 0644);
    archive_entry_set_size(
        e, t.kind == TarEntry::File ? static_cast<la_int64_t>(t.content.size()) : 0);
    for (const auto& [k, v] : t.xattrs)
      archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    archive_write_header(a, e);
    if (t.kind == TarEntry::File) archive_write_data(a, t.content.data(), t.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

}  // namespace vessel::test
