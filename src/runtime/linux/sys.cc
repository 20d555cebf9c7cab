#include "runtime/linux/sys.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace vessel::runtime::sys {

int pivot_root(const char* new_root, const char* put_old) {
  return static_cast<int>(syscall(SYS_pivot_root, new_root, put_old));
}
int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}
// Lexical clean-up of a path inside the root: ".." never goes above "/".
std::string normalize_in_root(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!part.empty() && part != ".") {
      out.push_back(part);
    }
    start = end + 1;
  }
  std::string r;
  for (const auto& p : out) r += "/" + p;
  return r.empty() ? "/" : r;
}

int close_range_cloexec(unsigned first) {
  return static_cast<int>(syscall(SYS_close_range, first, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */));
}

Result<Fd> open_in_root(int root, const std::string& path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = path;
  while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
  if (rel.empty()) rel = ".";
  for (;;) {
    long fd = syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
    if (fd >= 0) return Fd(static_cast<int>(fd));
    if (errno == EINTR || errno == EAGAIN) continue;
    return fail_errno("open {} inside the container root", path);
  }
}

namespace {
Result<Fd> mkdir_all_depth(int root, const std::string& path, bool file, int depth);
}

Result<Fd> mkdir_all_in_root(int root, const std::string& path, bool file) {
  return mkdir_all_depth(root, path, file, 0);
}

namespace {
Result<Fd> mkdir_all_depth(int root, const std::string& path, bool file, int depth) {
  if (depth > 16) return fail(ELOOP, "too many symlinks creating {}", path);
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) {
      std::string part = path.substr(start, end - start);
      if (part == "..") return fail(EINVAL, "path {} contains \"..\"", path);
      if (part != ".") parts.push_back(part);
    }
    start = end + 1;
  }
  Fd dir = TRY(open_in_root(root, "/", O_PATH | O_DIRECTORY));
  std::string sofar;
  for (size_t i = 0; i < parts.size(); ++i) {
    bool last = i + 1 == parts.size();
    sofar += "/" + parts[i];
    auto next = open_in_root(root, sofar, O_PATH);
    if (!next) {
      if (next.error().errnum() != ENOENT) return Unexpected(std::move(next).error());
      if (last && file) {
        int fd = openat(dir.get(), parts[i].c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && errno != EEXIST) return fail_errno("create mount point {}", sofar);
        if (fd >= 0) close(fd);
      } else if (mkdirat(dir.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
        return fail_errno("create directory {}", sofar);
      }
      // A dangling symlink: create its target, resolved inside the root.
      char link[4096];
      ssize_t n = readlinkat(dir.get(), parts[i].c_str(), link, sizeof link - 1);
      if (n > 0) {
        link[n] = 0;
        std::string target = link[0] == '/' ? std::string(link) : sofar.substr(0, sofar.rfind('/')) + "/" + link;
        std::string rest;
        for (size_t k = i + 1; k < parts.size(); ++k) rest += "/" + parts[k];
        return mkdir_all_depth(root, normalize_in_root(target) + rest, file, depth + 1);
      }
      next = open_in_root(root, sofar, O_PATH);
      if (!next) return Unexpected(std::move(next).error());
    }
    dir = std::move(*next);
  }
  return dir;
}
}  // namespace

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

namespace {
// Fields after the command name of /proc/PID/stat (the name may contain spaces and ')').
bool stat_fields(pid_t pid, std::string* out) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return false;
  auto close = text->rfind(')');
  if (close == std::string::npos) return false;
  *out = text->substr(close + 2);
  return true;
}
}  // namespace

uint64_t process_start_time(pid_t pid) {
  std::string rest;
  if (pid <= 0 || !stat_fields(pid, &rest)) return 0;
  // rest starts at field 3 (state); start time is field 22.
  size_t pos = 0;
  for (int field = 3; field < 22; ++field) {
    pos = rest.find(' ', pos);
    if (pos == std::string::npos) return 0;
    ++pos;
  }
  return std::strtoull(rest.c_str() + pos, nullptr, 10);
}

bool process_alive(pid_t pid) {
  std::string rest;
  if (pid <= 0 || !stat_fields(pid, &rest)) return false;
  return !rest.empty() && rest[0] != 'Z' && rest[0] != 'X';
}

}  // namespace vessel::runtime::sys
