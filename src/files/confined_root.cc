#include "files/confined_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>

namespace vessel::files {

namespace {

constexpr int kMaxRemoveDepth = 512;

Result<void> remove_depth(int dir, const std::string& name, int depth);

Result<void> remove_children(int dir, const std::string& name, int depth) {
  int fd = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fail_errno("open {}", name);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return fail_errno("read {}", name);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  while (dirent* e = ::readdir(d)) {
    std::string child = e->d_name;
    if (child == "." || child == "..") continue;
    TRY_CTX(remove_depth(::dirfd(d), child, depth + 1), "{}", name);
  }
  return {};
}

Result<void> remove_depth(int dir, const std::string& name, int depth) {
  if (depth > kMaxRemoveDepth)
    return fail(ELOOP, "directories nested deeper than {} levels", kMaxRemoveDepth);
  if (::unlinkat(dir, name.c_str(), 0) == 0 || errno == ENOENT) return {};
  if (errno != EISDIR) return fail_errno("remove {}", name);
  TRY(remove_children(dir, name, depth));
  if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) < 0)
    return fail_errno("remove directory {}", name);
  return {};
}

}  // namespace

Result<void> remove_at(int dir, const std::string& name) { return remove_depth(dir, name, 0); }

Result<ConfinedRoot> ConfinedRoot::open(const std::string& dir) {
  return ConfinedRoot(TRY(Fd::open(dir, O_RDONLY | O_DIRECTORY)));
}

Result<Fd> ConfinedRoot::open(const std::string& rel, int flags) const {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char* path = rel.empty() ? "." : rel.c_str();
  for (;;) {
    long fd = ::syscall(SYS_openat2, fd_.get(), path, &how, sizeof how);
    if (fd >= 0) return Fd(static_cast<int>(fd));
    if (errno != EINTR && errno != EAGAIN) return fail_errno("open {} inside the root", rel);
  }
}

Result<Fd> ConfinedRoot::open_dir(const std::string& rel, bool create) const {
  auto dir = open(rel, O_RDONLY | O_DIRECTORY);
  if (dir || !create || dir.error().errnum() != ENOENT) return dir;
  return make_dirs(rel);
}

Result<Fd> ConfinedRoot::make_dirs(const std::string& rel) const {
  Fd dir = TRY(open("", O_RDONLY | O_DIRECTORY));
  std::string sofar;
  size_t start = 0;
  while (start < rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    std::string part = rel.substr(start, end - start);
    sofar += (sofar.empty() ? "" : "/") + part;
    start = end + 1;
    auto next = open(sofar, O_RDONLY | O_DIRECTORY);
    if (!next && next.error().errnum() == ENOENT) {
      // Made in the directory the previous components resolved to (inside the root). A dangling
      // symlink here makes mkdirat fail with EEXIST and the open below fail: an error.
      if (::mkdirat(dir.get(), part.c_str(), 0755) < 0 && errno != EEXIST)
        return fail_errno("create directory {}", sofar);
      next = open(sofar, O_RDONLY | O_DIRECTORY);
    }
    dir = TRY(std::move(next));
  }
  return dir;
}

}  // namespace vessel::files
