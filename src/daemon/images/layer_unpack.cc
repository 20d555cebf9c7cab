#include "daemon/images/layer_unpack.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "base/fd.h"
#include "base/log.h"
#include "files/confined_root.h"
#include "files/entry_path.h"
#include "daemon/images/tar_reader.h"

namespace vessel::daemon {

using files::ConfinedRoot;
using files::parse_entry_path;
using files::remove_at;

namespace {

constexpr std::string_view kWhiteout = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";
constexpr std::string_view kWhiteoutMeta = ".wh..wh.";  // aufs bookkeeping (.wh..wh.plnk ...)

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string proc_path(int dir, const std::string& name) {
  return fmt::format("/proc/self/fd/{}/{}", dir, name);
}

// Where one entry lands: its parent directory (resolved inside the root) and its name there.
struct Place {
  Fd parent;
  std::string name;
  std::string rel;  // for messages
};

class Unpacker {
 public:
  Unpacker(archive* in, ConfinedRoot root, std::optional<IdRange> userns)
      : in_(in), root_(std::move(root)), owner_(::geteuid() == 0), userns_(userns) {}

  Result<void> entry(archive_entry* e);
  Result<void> finish();

 private:
  Result<void> whiteout(Place& at);
  Result<void> opaque(Place& at);
  Result<void> regular(Place& at, archive_entry* e);
  Result<void> directory(Place& at, archive_entry* e);
  Result<void> symlink(Place& at, archive_entry* e);
  Result<void> node(Place& at, archive_entry* e);
  Result<void> hardlink(Place& at, const char* target);
  // Owner, mode, xattrs and times of an entry just made: through `fd` when there is one (file,
  // directory), else by name in `at` without following it (symlink, device, fifo).
  Result<void> metadata(const Place& at, int fd, archive_entry* e, bool times);
  Result<void> xattrs(const Place& at, int fd, archive_entry* e);

  archive* in_;
  ConfinedRoot root_;
  bool owner_;  // chown only as root (libarchive's rule too)
  std::optional<IdRange> userns_;
  std::vector<std::pair<std::string, std::array<timespec, 2>>> dir_times_;  // set last
};

std::array<timespec, 2> entry_times(archive_entry* e) {
  std::array<timespec, 2> t{};
  t[0] = {archive_entry_atime(e), archive_entry_atime_nsec(e)};
  t[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  if (!archive_entry_atime_is_set(e)) t[0] = t[1];
  return t;
}

Result<void> Unpacker::entry(archive_entry* e) {
  auto path = TRY(parse_entry_path(archive_entry_pathname(e) ? archive_entry_pathname(e) : ""));
  if (path.name.empty()) return {};  // the layer's top directory: the target itself
  Place at{TRY(root_.open_dir(path.parent, true)), path.name, path.full()};
  if (path.name == kOpaque) return opaque(at);
  if (starts_with(path.name, kWhiteoutMeta)) return {};
  if (starts_with(path.name, kWhiteout)) return whiteout(at);
  if (const char* target = archive_entry_hardlink(e)) return hardlink(at, target);
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      return regular(at, e);
    case AE_IFDIR:
      return directory(at, e);
    case AE_IFLNK:
      return symlink(at, e);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      return node(at, e);
    case AE_IFSOCK:
      return {};  // a socket in a tar means nothing
    default:
      return fail(EINVAL, "{}: unknown entry type {:o}", at.rel, archive_entry_filetype(e));
  }
}

Result<void> Unpacker::whiteout(Place& at) {
  std::string victim = at.name.substr(kWhiteout.size());
  if (victim.empty() || victim == "." || victim == "..")
    return fail(EINVAL, "{}: a whiteout of nothing", at.rel);
  TRY(remove_at(at.parent.get(), victim));
  if (::mknodat(at.parent.get(), victim.c_str(), S_IFCHR | 0000, makedev(0, 0)) < 0)
    return fail_errno("whiteout {}", at.rel);
  return {};
}

Result<void> Unpacker::opaque(Place& at) {
  if (::fsetxattr(at.parent.get(), "trusted.overlay.opaque", "y", 1, 0) < 0)
    return fail_errno("mark {} opaque", at.rel);
  return {};
}

Result<void> Unpacker::regular(Place& at, archive_entry* e) {
  TRY(remove_at(at.parent.get(), at.name));
  int raw = ::openat(at.parent.get(), at.name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (raw < 0) return fail_errno("create {}", at.rel);
  Fd out(raw);
  const void* buf;
  size_t size;
  la_int64_t offset;
  int r;
  while ((r = archive_read_data_block(in_, &buf, &size, &offset)) == ARCHIVE_OK)
    TRY_CTX(pwrite_all(out.get(), buf, size, static_cast<uint64_t>(offset)), "write {}", at.rel);
  if (r != ARCHIVE_EOF) return fail(EIO, "read {} in the layer: {}", at.rel, archive_error(in_));
  if (::ftruncate(out.get(), archive_entry_size(e)) < 0)
    return fail_errno("size {}", at.rel);  // a trailing hole
  return metadata(at, out.get(), e, true);
}

Result<void> Unpacker::directory(Place& at, archive_entry* e) {
  struct stat st;
  bool exists = ::fstatat(at.parent.get(), at.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && !S_ISDIR(st.st_mode)) TRY(remove_at(at.parent.get(), at.name));
  if ((!exists || !S_ISDIR(st.st_mode)) && ::mkdirat(at.parent.get(), at.name.c_str(), 0700) < 0)
    return fail_errno("create directory {}", at.rel);
  int raw =
      ::openat(at.parent.get(), at.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (raw < 0) return fail_errno("open directory {}", at.rel);
  Fd dir(raw);
  dir_times_.emplace_back(at.rel, entry_times(e));  // later entries inside change them
  return metadata(at, dir.get(), e, false);
}

Result<void> Unpacker::symlink(Place& at, archive_entry* e) {
  const char* target = archive_entry_symlink(e);
  if (!target || !*target) return fail(EINVAL, "{}: a symlink to nothing", at.rel);
  TRY(remove_at(at.parent.get(), at.name));
  // The target is stored as written: it is only ever resolved inside a root (here by openat2,
  // in a container by its own root).
  if (::symlinkat(target, at.parent.get(), at.name.c_str()) < 0)
    return fail_errno("create symlink {}", at.rel);
  return metadata(at, -1, e, true);
}

Result<void> Unpacker::node(Place& at, archive_entry* e) {
  TRY(remove_at(at.parent.get(), at.name));
  mode_t type = archive_entry_filetype(e) == AE_IFCHR   ? S_IFCHR
                : archive_entry_filetype(e) == AE_IFBLK ? S_IFBLK
                                                        : S_IFIFO;
  if (::mknodat(at.parent.get(), at.name.c_str(), type | 0600, archive_entry_rdev(e)) < 0)
    return fail_errno("create device node {}", at.rel);
  return metadata(at, -1, e, true);
}

Result<void> Unpacker::hardlink(Place& at, const char* target) {
  auto to = TRY_CTX(parse_entry_path(target), "hardlink {}", at.rel);
  if (to.name.empty()) return fail(EINVAL, "{}: a hardlink to the layer's top directory", at.rel);
  Fd to_parent = TRY_CTX(root_.open_dir(to.parent, false), "hardlink {} to {}", at.rel, to.full());
  TRY(remove_at(at.parent.get(), at.name));
  // Flags 0: a symlink named as the target is linked itself, never followed.
  if (::linkat(to_parent.get(), to.name.c_str(), at.parent.get(), at.name.c_str(), 0) < 0)
    return fail_errno("hardlink {} to {}", at.rel, to.full());
  return {};
}

// An id of the archive as the host writes it: `base` + id inside a user namespace's range.
Result<uid_t> host_id(la_int64_t id, uint32_t base, const char* what, const Place& at, const std::optional<IdRange>& userns) {
  uint64_t limit = userns ? userns->count : (uint64_t{1} << 32) - 1;
  if (id < 0 || static_cast<uint64_t>(id) >= limit)
    return fail(EINVAL, "{} is owned by {} {}, outside {}", at.rel, what, id,
                userns ? fmt::format("the container's {} ids", userns->count) : std::string("the host's ids"));
  return static_cast<uid_t>(base + static_cast<uint64_t>(id));
}

Result<void> Unpacker::metadata(const Place& at, int fd, archive_entry* e, bool times) {
  int dir = at.parent.get();
  const char* name = at.name.c_str();
  bool is_link = archive_entry_filetype(e) == AE_IFLNK;
  uid_t uid = TRY(host_id(archive_entry_uid(e), userns_ ? userns_->uid : 0, "uid", at, userns_));
  gid_t gid = TRY(host_id(archive_entry_gid(e), userns_ ? userns_->gid : 0, "gid", at, userns_));
  if (owner_ &&
      (fd >= 0 ? ::fchown(fd, uid, gid) : ::fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)) < 0)
    return fail_errno("chown {}", at.rel);
  mode_t perm = archive_entry_perm(e) & 07777;
  // After chown, which clears set-id bits. A symlink has no mode of its own; the node was made
  // just now by mknodat, so following its name reaches it.
  if (!is_link && (fd >= 0 ? ::fchmod(fd, perm) : ::fchmodat(dir, name, perm, 0)) < 0)
    return fail_errno("chmod {}", at.rel);
  TRY(xattrs(at, fd, e));  // after chown, which clears security.capability
  if (!times) return {};
  auto t = entry_times(e);
  if ((fd >= 0 ? ::futimens(fd, t.data()) : ::utimensat(dir, name, t.data(), AT_SYMLINK_NOFOLLOW)) <
      0)
    return fail_errno("set times of {}", at.rel);
  return {};
}

Result<void> Unpacker::xattrs(const Place& at, int fd, archive_entry* e) {
  archive_entry_xattr_reset(e);
  const char* key;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
    if (!key || starts_with(key, "trusted.overlay.")) {
      log::debug("layer entry {}: xattr {} ignored (overlayfs's own; layers use .wh. markers)",
                 at.rel, key ? key : "");
      continue;
    }
    // fsetxattr needs an open file; a symlink or a device is named through our own fd of its
    // parent (a magic link we made, not one from the layer) and never followed.
    int rc = fd >= 0
                 ? ::fsetxattr(fd, key, value, size, 0)
                 : ::lsetxattr(proc_path(at.parent.get(), at.name).c_str(), key, value, size, 0);
    if (rc < 0 && errno != ENOTSUP) return fail_errno("set xattr {} on {}", key, at.rel);
  }
  return {};
}

Result<void> Unpacker::finish() {
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    auto dir = root_.open(it->first, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (dir)
      (void)::futimens(dir->get(), it->second.data());  // gone or replaced since: nothing to do
  }
  return {};
}

// What an entry's own shape causes (a missing or dangling parent, a file where a directory
// belongs, a symlink loop) is the layer's fault: EINVAL (HTTP 400), not ENOENT's 404.
Error as_layer_fault(Error error, archive_entry* entry) {
  const char* name = archive_entry_pathname(entry);
  error.add_context(fmt::format("layer entry {}", name ? name : "?"));
  switch (error.errnum()) {
    case ENOENT:
    case ENOTDIR:
    case EEXIST:
    case ELOOP:
    case EISDIR:
    case EXDEV:
    case EMLINK:
    case ENAMETOOLONG:
      return Error(EINVAL,
                   error.to_string() + " (the layer is malformed, or points outside itself)");
    default:
      return error;
  }
}

}  // namespace

Result<void> unpack_layer(const std::string& tar, const std::string& target, const std::optional<IdRange>& userns) {
  auto in = TRY(open_tar(tar));
  std::error_code ec;
  std::filesystem::create_directories(target, ec);
  if (ec) return fail(ec.value(), "create {}: {}", target, ec.message());
  Unpacker unpacker(in.get(), TRY(ConfinedRoot::open(target)), userns);
  archive_entry* entry;
  int rc;
  while ((rc = archive_read_next_header(in.get(), &entry)) == ARCHIVE_OK) {
    auto done = unpacker.entry(entry);
    if (!done) return Unexpected(as_layer_fault(std::move(done).error(), entry));
  }
  if (rc != ARCHIVE_EOF)
    return fail(EINVAL, "layer {} is not a valid tar archive: {}", tar, archive_error(in.get()));
  return unpacker.finish();
}

}  // namespace vessel::daemon
