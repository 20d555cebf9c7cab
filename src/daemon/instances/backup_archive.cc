#include "daemon/instances/backup_archive.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <set>
#include <vector>

#include "daemon/images/sha256.h"
#include "daemon/images/tar_reader.h"
#include "files/archive_handles.h"

namespace vessel::daemon {

namespace {

constexpr size_t kChunk = 1 << 20;

Result<void> write_header(archive* out, const std::string& name, uint64_t size, int64_t mtime) {
  files::ArchiveEntry e(archive_entry_new());
  archive_entry_copy_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0600);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
  archive_entry_set_mtime(e.get(), mtime, 0);
  if (archive_write_header(out, e.get()) != ARCHIVE_OK) return fail(EIO, "write the backup: {}", archive_error(out));
  return {};
}

Result<void> write_data(archive* out, const void* data, size_t size) {
  if (archive_write_data(out, data, size) != static_cast<la_ssize_t>(size))
    return fail(EIO, "write the backup: {}", archive_error(out));
  return {};
}

// Copies the part's bytes into the archive; exactly `size` of them, or the file changed.
Result<void> copy_part(archive* out, const BackupPart& part, uint64_t size, uint64_t& done, uint64_t total,
                       const BackupProgress& progress) {
  Fd fd = TRY(Fd::open(part.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  std::vector<char> buf(kChunk);
  uint64_t left = size;
  while (left > 0) {
    ssize_t n = ::read(fd.get(), buf.data(), std::min<uint64_t>(left, buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read {}", part.path);
    if (n == 0) return fail(EAGAIN, "{} shrank while it was exported", part.path);
    TRY(write_data(out, buf.data(), static_cast<size_t>(n)));
    left -= static_cast<uint64_t>(n);
    done += static_cast<uint64_t>(n);
    if (progress) progress(done, total);
  }
  char extra;
  if (::read(fd.get(), &extra, 1) > 0) return fail(EAGAIN, "{} grew while it was exported", part.path);
  return {};
}

// Reads the current entry's data into `fd`, hashing it; exactly `size` bytes.
Result<void> read_entry(archive* in, const BackupFile& file, int fd, uint64_t& done, uint64_t total,
                        const BackupProgress& progress) {
  Sha256 hash;
  std::vector<char> buf(kChunk);
  uint64_t got = 0;
  for (;;) {
    la_ssize_t n = archive_read_data(in, buf.data(), buf.size());
    if (n < 0) return fail(EINVAL, "the backup is truncated or corrupt in {}: {}", file.name, archive_error(in));
    if (n == 0) break;
    got += static_cast<uint64_t>(n);
    if (got > file.size) return fail(EINVAL, "{} in the backup is larger than its manifest says", file.name);
    hash.update(buf.data(), static_cast<size_t>(n));
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(fd, buf.data() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail_errno("write {} of the backup", file.name);
      off += w;
    }
    done += static_cast<uint64_t>(n);
    if (progress) progress(done, total);
  }
  if (got != file.size)
    return fail(EINVAL, "the backup is truncated: {} has {} of its {} bytes", file.name, got, file.size);
  if (hash.hex_digest() != file.sha256)
    return fail(EBADMSG, "{} in the backup does not match its sha256 in the manifest: the backup is corrupt",
                file.name);
  return {};
}

Result<std::string> read_manifest_entry(archive* in, const BackupLimits& limits) {
  archive_entry* e = nullptr;
  int rc = archive_read_next_header(in, &e);
  if (rc == ARCHIVE_EOF) return fail(EINVAL, "the backup is empty");
  if (rc != ARCHIVE_OK) return fail(EINVAL, "not a vessel backup (a tar): {}", archive_error(in));
  const char* name = archive_entry_pathname(e);
  if (!name || std::string_view(name) != kBackupManifestName || archive_entry_filetype(e) != AE_IFREG)
    return fail(EINVAL, "not a vessel backup: its first entry is not {}", kBackupManifestName);
  if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
      static_cast<uint64_t>(archive_entry_size(e)) > limits.max_manifest_bytes)
    return fail(EFBIG, "the backup's manifest is larger than {} bytes", limits.max_manifest_bytes);
  std::string text(static_cast<size_t>(archive_entry_size(e)), '\0');
  la_ssize_t n = archive_read_data(in, text.data(), text.size());
  if (n != static_cast<la_ssize_t>(text.size()))
    return fail(EINVAL, "the backup is truncated or corrupt in its manifest: {}", archive_error(in));
  return text;
}

}  // namespace

Result<BackupManifest> write_backup(int out_fd, BackupManifest manifest, const std::vector<BackupPart>& parts,
                                    bool zstd, const BackupProgress& progress) {
  manifest.files.clear();
  for (const auto& part : parts) {
    BackupFile f = part.file;
    struct stat st;
    if (::lstat(part.path.c_str(), &st) != 0) return fail_errno("{}", part.path);
    if (!S_ISREG(st.st_mode)) return fail(EINVAL, "{} is not a regular file", part.path);
    f.size = static_cast<uint64_t>(st.st_size);
    f.sha256 = TRY(sha256_file(part.path));
    manifest.files.push_back(std::move(f));
  }
  files::ArchiveWriter out(archive_write_new());
  if (!out) return fail(ENOMEM, "archive_write_new (out of memory)");
  archive_write_set_format_pax_restricted(out.get());
  if (zstd && archive_write_add_filter_zstd(out.get()) != ARCHIVE_OK)
    return fail(ENOTSUP, "zstd compression: {}", archive_error(out.get()));
  archive_write_set_bytes_in_last_block(out.get(), 1);
  if (archive_write_open_fd(out.get(), out_fd) != ARCHIVE_OK) return fail(EIO, "write the backup: {}", archive_error(out.get()));
  std::string text = to_json(manifest).dump(2) + "\n";
  TRY(write_header(out.get(), kBackupManifestName, text.size(), manifest.created_at));
  TRY(write_data(out.get(), text.data(), text.size()));
  uint64_t done = 0, total = manifest.total_bytes();
  for (size_t i = 0; i < parts.size(); ++i) {
    TRY(write_header(out.get(), manifest.files[i].name, manifest.files[i].size, manifest.created_at));
    TRY(copy_part(out.get(), parts[i], manifest.files[i].size, done, total, progress));
  }
  if (archive_write_close(out.get()) != ARCHIVE_OK) return fail(EIO, "write the backup: {}", archive_error(out.get()));
  return manifest;
}

Result<BackupManifest> read_backup(archive* in, const BackupLimits& limits, const ManifestCheck& check,
                                   const BackupSink& sink, const BackupProgress& progress) {
  auto manifest = TRY(parse_backup_manifest(TRY(read_manifest_entry(in, limits)), limits));
  if (check) TRY(check(manifest));
  std::set<std::string> seen;
  uint64_t done = 0, total = manifest.total_bytes();
  for (;;) {
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(in, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) return fail(EINVAL, "the backup is truncated or corrupt: {}", archive_error(in));
    const char* raw = archive_entry_pathname(e);
    std::string name = raw ? raw : "";
    const BackupFile* file = manifest.find(name);
    if (!file) return fail(EINVAL, "the backup holds '{}', which its manifest does not name", name.substr(0, 80));
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) || archive_entry_symlink(e))
      return fail(EINVAL, "{} in the backup is not a regular file (a link, a device or a directory)", name);
    if (!seen.insert(name).second) return fail(EINVAL, "the backup holds {} twice", name);
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
        static_cast<uint64_t>(archive_entry_size(e)) != file->size)
      return fail(EINVAL, "{} in the backup is not of the size its manifest says ({} bytes)", name, file->size);
    Fd out = TRY(sink(*file));
    TRY(read_entry(in, *file, out.get(), done, total, progress));
  }
  for (const auto& f : manifest.files)
    if (!seen.count(f.name)) return fail(EINVAL, "the backup is truncated: {} is missing", f.name);
  return manifest;
}

Result<BackupManifest> unpack_backup(archive* in, const std::string& dir, const BackupLimits& limits,
                                     const ManifestCheck& check, const BackupProgress& progress) {
  auto room = [&](const BackupManifest& m) -> Result<void> {
    struct statvfs vfs;
    if (::statvfs(dir.c_str(), &vfs) != 0) return fail_errno("statvfs {}", dir);
    uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (m.total_bytes() > free_bytes)
      return fail(ENOSPC, "the backup's files take {} bytes; {} has {} free", m.total_bytes(), dir, free_bytes);
    return check ? check(m) : Result<void>{};
  };
  auto stage = [&](const BackupFile& file) -> Result<Fd> {
    // The name is checked (plain components, nothing climbs) and `dir` is the caller's fresh
    // directory: its parents are made here, and the file must be new.
    std::string path = dir + "/" + file.name;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (ec) return fail(ec.value(), "mkdir for {}: {}", file.name, ec.message());
    return Fd::open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  };
  return read_backup(in, limits, room, stage, progress);
}

}  // namespace vessel::daemon
