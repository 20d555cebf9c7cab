#include "files/tar_unpack.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "files/entry_path.h"

namespace vessel::files {

namespace {

const char* error_of(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown error";
}

Result<ArchiveReader> reader() {
  ArchiveReader in(archive_read_new());
  if (!in) return fail(ENOMEM, "archive_read_new (out of memory)");
  archive_read_support_format_tar(in.get());
  archive_read_support_filter_none(in.get());
  archive_read_support_filter_gzip(in.get());
  archive_read_support_filter_zstd(in.get());  // vessel export --compress zstd
  return in;
}

std::string join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

struct DirLater {
  std::string rel;
  mode_t perm;
  std::array<timespec, 2> times;
};

class Unpacker {
 public:
  Unpacker(const ConfinedRoot& root, std::string dir, archive* in, const UnpackOptions& o)
      : root_(root), dir_(std::move(dir)), in_(in), o_(o) {}

  Result<void> entry(archive_entry* e);
  Result<void> finish();
  UnpackStats stats;

 private:
  // The entry's name after the rebase; nullopt: skip it.
  Result<std::optional<std::string>> name_of(std::string_view raw);
  Result<std::pair<uid_t, gid_t>> owner(archive_entry* e);
  // The entry's parent directory, its missing components made (0755, owned like a copied file).
  Result<Fd> parent_dir(const std::string& parent);
  Result<void> metadata(int parent, const std::string& name, int fd, archive_entry* e,
                        const std::string& rel);
  Result<void> replace(int parent, const std::string& name, bool dir, const std::string& rel);

  const ConfinedRoot& root_;
  std::string dir_;
  archive* in_;
  const UnpackOptions& o_;
  std::vector<DirLater> dirs_;
};

Result<std::optional<std::string>> Unpacker::name_of(std::string_view raw) {
  auto path = TRY(parse_entry_path(raw));
  std::string full = path.full();
  if (!o_.rebase) return full.empty() ? std::nullopt : std::optional(full);
  const auto& [from, to] = *o_.rebase;
  if (full == from) {
    if (to.empty()) return std::nullopt;
    return to;
  }
  if (from.empty()) return join(to, full);
  if (full.size() > from.size() && full.compare(0, from.size(), from) == 0 &&
      full[from.size()] == '/')
    return join(to, full.substr(from.size() + 1));
  return fail(EINVAL, "archive entry '{}' is not under '{}', the path asked for", raw, from);
}

Result<std::pair<uid_t, gid_t>> Unpacker::owner(archive_entry* e) {
  if (!o_.keep_owner) return std::pair{o_.uid, o_.gid};
  int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  if (o_.ids) return o_.ids(uid, gid);
  if (uid < 0 || gid < 0 || uid > 0xfffffffe || gid > 0xfffffffe)
    return fail(EINVAL, "owner {}:{} out of range", uid, gid);
  return std::pair{static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
}

Result<Fd> Unpacker::parent_dir(const std::string& parent) {
  auto whole = root_.open_dir(join(dir_, parent), false);
  if (whole || whole.error().errnum() != ENOENT) return whole;
  std::string sofar = dir_;
  size_t start = 0;
  Fd at = TRY(root_.open_dir(dir_, false));
  while (start < parent.size()) {
    size_t end = parent.find('/', start);
    if (end == std::string::npos) end = parent.size();
    std::string part = parent.substr(start, end - start);
    start = end + 1;
    sofar = join(sofar, part);
    auto next = root_.open_dir(sofar, false);
    if (!next && next.error().errnum() == ENOENT) {
      // Made in the directory the components so far resolved to (inside the root).
      if (::mkdirat(at.get(), part.c_str(), 0755) < 0 && errno != EEXIST)
        return fail_errno("create directory {}", sofar);
      if (o_.chown && ::fchownat(at.get(), part.c_str(), o_.uid, o_.gid, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno("chown {}", sofar);
      next = root_.open_dir(sofar, false);
    }
    at = TRY(std::move(next));
  }
  return at;
}

// A directory stays a directory and a non-directory stays one: Docker's noOverwriteDirNonDir.
// Anything else in the way (a file, a symlink planted there) is removed, never followed.
Result<void> Unpacker::replace(int parent, const std::string& name, bool dir,
                               const std::string& rel) {
  struct stat st;
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return {};
    return fail_errno("stat {}", rel);
  }
  if (S_ISDIR(st.st_mode) && !dir)
    return fail(EISDIR, "cannot overwrite directory {} with a non-directory", rel);
  if (!S_ISDIR(st.st_mode) && dir)
    return fail(ENOTDIR, "cannot overwrite non-directory {} with a directory", rel);
  if (dir) return {};
  if (::unlinkat(parent, name.c_str(), 0) < 0) return fail_errno("replace {}", rel);
  return {};
}

Result<void> Unpacker::metadata(int parent, const std::string& name, int fd, archive_entry* e,
                                const std::string& rel) {
  bool link = archive_entry_filetype(e) == AE_IFLNK;
  if (o_.chown) {
    auto [uid, gid] = TRY_CTX(owner(e), "{}", rel);
    int rc = fd >= 0 ? ::fchown(fd, uid, gid)
                     : ::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
    if (rc < 0) return fail_errno("chown {}", rel);
  }
  if (archive_entry_filetype(e) == AE_IFDIR) return {};  // mode and times at the end
  mode_t perm = archive_entry_perm(e) & 07777;
  if (!o_.keep_owner) perm &= 01777;  // no set-id bits on files a copy gave a new owner
  // After chown, which clears set-id bits. A node was made just now by mknodat: its name is it.
  if (!link && (fd >= 0 ? ::fchmod(fd, perm) : ::fchmodat(parent, name.c_str(), perm, 0)) < 0)
    return fail_errno("chmod {}", rel);
  std::array<timespec, 2> t{};
  t[0] = t[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  if ((fd >= 0 ? ::futimens(fd, t.data())
               : ::utimensat(parent, name.c_str(), t.data(), AT_SYMLINK_NOFOLLOW)) < 0)
    return fail_errno("set times of {}", rel);
  return {};
}

Result<void> Unpacker::entry(archive_entry* e) {
  if (++stats.entries > o_.max_entries) return fail(E2BIG, "more than {} entries", o_.max_entries);
  const char* raw = archive_entry_pathname(e);
  auto named = TRY(name_of(raw ? raw : ""));
  if (!named) return {};
  auto path = TRY(parse_entry_path(*named));
  std::string rel = join(dir_, path.full());
  Fd parent = TRY(parent_dir(path.parent));
  const std::string& name = path.name;
  int p = parent.get();
  if (const char* target = archive_entry_hardlink(e)) {
    auto to_named = TRY(name_of(target));
    if (!to_named) return fail(EINVAL, "{}: a hard link to the archive's top directory", rel);
    auto to = TRY(parse_entry_path(*to_named));
    Fd to_parent = TRY_CTX(root_.open_dir(join(dir_, to.parent), false), "hard link {}", rel);
    TRY(replace(p, name, false, rel));
    if (::linkat(to_parent.get(), to.name.c_str(), p, name.c_str(), 0) <
        0)  // a symlink is linked, not followed
      return fail_errno("hard link {} to {}", rel, to.full());
    return {};
  }
  switch (archive_entry_filetype(e)) {
    case AE_IFREG: {
      TRY(replace(p, name, false, rel));
      int raw_fd =
          ::openat(p, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (raw_fd < 0) return fail_errno("create {}", rel);
      Fd out(raw_fd);
      const void* buf;
      size_t size;
      la_int64_t offset;
      int r;
      while ((r = archive_read_data_block(in_, &buf, &size, &offset)) == ARCHIVE_OK) {
        TRY_CTX(pwrite_all(out.get(), buf, size, static_cast<uint64_t>(offset)), "write {}", rel);
        stats.bytes += size;
        if (o_.progress) o_.progress(stats.bytes);
      }
      if (r != ARCHIVE_EOF) return fail(EINVAL, "read {} in the archive: {}", rel, error_of(in_));
      if (::ftruncate(out.get(), archive_entry_size(e)) < 0) return fail_errno("size {}", rel);
      return metadata(p, name, out.get(), e, rel);
    }
    case AE_IFDIR: {
      TRY(replace(p, name, true, rel));
      if (::mkdirat(p, name.c_str(), 0700) < 0 && errno != EEXIST)
        return fail_errno("create directory {}", rel);
      int raw_fd = ::openat(p, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (raw_fd < 0) return fail_errno("open directory {}", rel);
      Fd dir(raw_fd);
      timespec m{archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
      dirs_.push_back({rel, static_cast<mode_t>(archive_entry_perm(e) & 07777), {m, m}});
      return metadata(p, name, dir.get(), e, rel);
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (!target || !*target) return fail(EINVAL, "{}: a symlink to nothing", rel);
      if (std::string_view(target).size() > kMaxLinkTarget)
        return fail(ENAMETOOLONG, "{}: a symlink target over {} bytes", rel, kMaxLinkTarget);
      TRY(replace(p, name, false, rel));
      // Stored as written: it is only ever resolved inside a root (here by openat2; in a
      // container by its root; on the host below the destination directory).
      if (::symlinkat(target, p, name.c_str()) < 0) return fail_errno("create symlink {}", rel);
      return metadata(p, name, -1, e, rel);
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      bool fifo = archive_entry_filetype(e) == AE_IFIFO;
      if (!fifo && !o_.allow_devices)
        return fail(EPERM, "{}: a device node (copying devices needs --archive)", rel);
      TRY(replace(p, name, false, rel));
      mode_t type = fifo ? S_IFIFO : archive_entry_filetype(e) == AE_IFCHR ? S_IFCHR : S_IFBLK;
      if (::mknodat(p, name.c_str(), type | 0600, fifo ? 0 : archive_entry_rdev(e)) < 0)
        return fail_errno("create {}", rel);
      return metadata(p, name, -1, e, rel);
    }
    default:
      return fail(EINVAL, "{}: unsupported entry type {:o}", rel, archive_entry_filetype(e));
  }
}

Result<void> Unpacker::finish() {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    auto dir = root_.open(it->rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!dir) continue;  // replaced since by a later entry: nothing to do
    mode_t perm = o_.keep_owner ? it->perm : (it->perm & 01777);
    if (::fchmod(dir->get(), perm) < 0) return fail_errno("chmod {}", it->rel);
    (void)::futimens(dir->get(), it->times.data());
  }
  return {};
}

}  // namespace

Result<ArchiveReader> open_tar_memory(std::string_view bytes) {
  auto in = TRY(reader());
  if (archive_read_open_memory(in.get(), bytes.data(), bytes.size()) != ARCHIVE_OK)
    return fail(EINVAL, "not a tar archive: {}", error_of(in.get()));
  return in;
}

Result<ArchiveReader> open_tar_fd(int fd) {
  auto in = TRY(reader());
  if (archive_read_open_fd(in.get(), fd, 64 * 1024) != ARCHIVE_OK)
    return fail(EINVAL, "not a tar archive: {}", error_of(in.get()));
  return in;
}

Result<UnpackStats> unpack(const ConfinedRoot& root, const std::string& dir, archive* in,
                           const UnpackOptions& options) {
  {
    auto target = root.open(dir, O_PATH | O_DIRECTORY);
    if (!target) {
      if (target.error().errnum() == ENOTDIR)
        return fail(ENOTDIR, "{} is not a directory", dir.empty() ? "/" : dir);
      return Unexpected(std::move(target).error());
    }
  }
  Unpacker unpacker(root, dir, in, options);
  archive_entry* e;
  int rc;
  while ((rc = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
    auto done = unpacker.entry(e);
    if (!done) {
      const char* name = archive_entry_pathname(e);
      return Unexpected(
          std::move(done).error().add_context(fmt::format("archive entry {}", name ? name : "?")));
    }
  }
  if (rc != ARCHIVE_EOF) return fail(EINVAL, "not a valid tar archive: {}", error_of(in));
  TRY(unpacker.finish());
  return unpacker.stats;
}

}  // namespace vessel::files
