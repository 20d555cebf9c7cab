#include "files/tar_pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "files/archive_handles.h"

namespace vessel::files {

namespace {

constexpr int kMaxDepth = 512;

Result<std::string> read_link(int dir, const char* name) {
  std::string target(4096, '\0');
  ssize_t n = ::readlinkat(dir, name, target.data(), target.size());
  if (n < 0) return fail_errno("read link");
  target.resize(static_cast<size_t>(n));
  return target;
}

class Packer {
 public:
  Packer(archive* out, const PackOptions& options) : out_(out), options_(options) {}

  // One entry: `fd` is the object itself (opened O_RDONLY for files and directories, O_PATH
  // otherwise), `dir`/`name` where it is (for readlinkat).
  Result<void> add(int fd, const struct stat& st, int dir, const char* name,
                   const std::string& path, int depth);

 private:
  Result<void> header(const struct stat& st, const std::string& path, const std::string& link);
  Result<void> data(int fd, const struct stat& st, const std::string& path);
  Result<void> children(int fd, const std::string& path, int depth);
  // oci_whiteouts: the entry an overlayfs whiteout or opaque directory becomes.
  Result<void> oci_marker(const struct stat& like, const std::string& path);

  archive* out_;
  const PackOptions& options_;
  uint64_t bytes_ = 0;
};

Result<void> Packer::header(const struct stat& st, const std::string& path,
                            const std::string& link) {
  ArchiveEntry e(archive_entry_new());
  archive_entry_copy_stat(e.get(), &st);
  archive_entry_set_nlink(e.get(), 1);
  archive_entry_copy_pathname(e.get(), path.c_str());
  if (S_ISLNK(st.st_mode)) archive_entry_copy_symlink(e.get(), link.c_str());
  if (!S_ISREG(st.st_mode)) archive_entry_set_size(e.get(), 0);
  if (options_.ids) {
    auto [uid, gid] = options_.ids(st.st_uid, st.st_gid);
    archive_entry_set_uid(e.get(), uid);
    archive_entry_set_gid(e.get(), gid);
  }
  if (archive_write_header(out_, e.get()) != ARCHIVE_OK)
    return fail(EIO, "write the archive entry {}: {}", path,
                archive_error_string(out_) ? archive_error_string(out_) : "?");
  return {};
}

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0; }

bool is_opaque(int dir_fd) {
  char value[2] = {};
  return ::fgetxattr(dir_fd, "trusted.overlay.opaque", value, sizeof value) == 1 && value[0] == 'y';
}

std::string whiteout_path(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? ".wh." + path : path.substr(0, slash + 1) + ".wh." + path.substr(slash + 1);
}

Result<void> Packer::oci_marker(const struct stat& like, const std::string& path) {
  struct stat st = like;
  st.st_mode = S_IFREG | 0644;
  st.st_size = 0;
  st.st_rdev = 0;
  return header(st, path, "");
}

Result<void> Packer::data(int fd, const struct stat& st, const std::string& path) {
  // Exactly the announced size: a file that shrinks meanwhile is padded, one that grows is cut.
  std::vector<char> buf(64 * 1024);
  uint64_t left = static_cast<uint64_t>(st.st_size);
  while (left > 0) {
    ssize_t n = ::read(fd, buf.data(), std::min<uint64_t>(left, buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read {}", path);
    if (n == 0) {
      std::fill(buf.begin(), buf.end(), 0);
      n = static_cast<ssize_t>(std::min<uint64_t>(left, buf.size()));
    }
    if (archive_write_data(out_, buf.data(), static_cast<size_t>(n)) != n)
      return fail(EIO, "write {} to the archive: {}", path,
                  archive_error_string(out_) ? archive_error_string(out_) : "?");
    left -= static_cast<uint64_t>(n);
    bytes_ += static_cast<uint64_t>(n);
    if (options_.progress) options_.progress(bytes_);
  }
  return {};
}

Result<void> Packer::children(int fd, const std::string& path, int depth) {
  if (depth > kMaxDepth)
    return fail(ELOOP, "{}: directories nested deeper than {} levels", path, kMaxDepth);
  int listed = ::dup(fd);
  if (listed < 0) return fail_errno("dup");
  DIR* d = ::fdopendir(listed);
  if (!d) {
    ::close(listed);
    return fail_errno("read directory {}", path);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());  // the same tree, the same archive
  for (const auto& n : names) {
    struct stat st;
    if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue;  // gone meanwhile
      return fail_errno("stat {}/{}", path, n);
    }
    int flags = S_ISDIR(st.st_mode)   ? O_RDONLY | O_DIRECTORY
                : S_ISREG(st.st_mode) ? O_RDONLY
                                      : O_PATH;
    int raw = ::openat(fd, n.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (raw < 0) {
      if (errno == ENOENT) continue;
      return fail_errno("open {}/{}", path, n);
    }
    Fd child(raw);
    std::string child_path = path.empty() ? n : path + "/" + n;
    TRY(add(child.get(), st, fd, n.c_str(), child_path, depth + 1));
  }
  return {};
}

Result<void> Packer::add(int fd, const struct stat& seen, int dir, const char* name,
                         const std::string& path, int depth) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return fail_errno("stat {}", path);
  if ((st.st_mode & S_IFMT) != (seen.st_mode & S_IFMT))
    return fail(EAGAIN, "{} changed while being read", path);
  if (S_ISSOCK(st.st_mode)) return {};
  std::string link;
  if (S_ISLNK(st.st_mode)) link = TRY_CTX(read_link(dir, name), "{}", path);
  if (options_.oci_whiteouts && is_whiteout(st)) return oci_marker(st, whiteout_path(path));
  if (!path.empty()) TRY(header(st, path, link));
  if (S_ISREG(st.st_mode)) return data(fd, st, path);
  if (S_ISDIR(st.st_mode)) {
    if (options_.oci_whiteouts && is_opaque(fd)) TRY(oci_marker(st, path.empty() ? ".wh..wh..opq" : path + "/.wh..wh..opq"));
    return children(fd, path, depth);
  }
  return {};
}

}  // namespace

Result<PathStat> stat_in(const ConfinedRoot& root, const std::string& rel, bool follow_link) {
  Fd fd = TRY(root.open(rel, O_PATH | (follow_link ? 0 : O_NOFOLLOW)));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return fail_errno("stat {}", rel);
  PathStat out;
  out.name = base_name(rel);  // "a/b/." is b
  out.size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  out.mode = st.st_mode;
  out.mtime = st.st_mtim.tv_sec;
  if (S_ISLNK(st.st_mode)) out.link_target = TRY_CTX(read_link(fd.get(), ""), "{}", rel);
  return out;
}

Result<void> pack(const ConfinedRoot& root, const std::string& rel, const std::string& top,
                  const PackOptions& options, int out_fd) {
  int nofollow = options.follow_link ? 0 : O_NOFOLLOW;
  Fd at = TRY(root.open(rel, O_PATH | nofollow));
  struct stat st;
  if (::fstat(at.get(), &st) < 0) return fail_errno("stat {}", rel);
  if (top.empty() && !S_ISDIR(st.st_mode)) return fail(ENOTDIR, "{} is not a directory", rel);
  // Files and directories are read through an fd of their own, opened the same way.
  Fd fd = S_ISDIR(st.st_mode)   ? TRY(root.open(rel, O_RDONLY | O_DIRECTORY | nofollow))
          : S_ISREG(st.st_mode) ? TRY(root.open(rel, O_RDONLY | O_NONBLOCK | nofollow))
                                : std::move(at);
  ArchiveWriter out(archive_write_new());
  if (!out) return fail(ENOMEM, "archive_write_new (out of memory)");
  if (archive_write_set_format_pax_restricted(out.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(out.get(), 1) != ARCHIVE_OK ||
      archive_write_open_fd(out.get(), out_fd) != ARCHIVE_OK)
    return fail(EIO, "start the archive: {}",
                archive_error_string(out.get()) ? archive_error_string(out.get()) : "?");
  Packer packer(out.get(), options);
  // The top entry is read as a symlink by its O_PATH fd (readlinkat with an empty name).
  TRY(packer.add(fd.get(), st, fd.get(), "", top, 0));
  if (archive_write_close(out.get()) != ARCHIVE_OK)
    return fail(EIO, "finish the archive: {}",
                archive_error_string(out.get()) ? archive_error_string(out.get()) : "?");
  return {};
}

}  // namespace vessel::files
