#include "jailer/jail_mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "base/fd.h"

namespace vessel::jailer {
namespace {

bool clean_absolute(const std::string& p) {
  if (p.empty() || p[0] != '/' || p.find('\0') != std::string::npos) return false;
  std::istringstream parts(p);
  for (std::string part; std::getline(parts, part, '/');)
    if (part == "..") return false;
  return true;
}

// Creates the directories of `rel` (a path below `root`) one by one; each must end up a real
// directory, never a symbolic link (the root may hold what an earlier VMM of this uid left).
Result<void> make_dirs_below(const std::string& root, const std::string& rel) {
  std::string at = root;
  std::istringstream parts(rel);
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty() || part == ".") continue;
    at += "/" + part;
    if (::mkdir(at.c_str(), 0755) != 0 && errno != EEXIST)
      return fail_errno("create directory {}", at);
    struct stat st;
    if (::lstat(at.c_str(), &st) != 0) return fail_errno("stat {}", at);
    if (!S_ISDIR(st.st_mode))
      return fail(ENOTDIR, "{} is not a directory (a symbolic link?): refusing to mount there", at);
  }
  return {};
}

Result<void> make_point(const std::string& root, const BindMount& m) {
  struct stat src;
  if (::stat(m.source.c_str(), &src) != 0) return fail_errno("--mount source {}", m.source);
  auto slash = m.target.rfind('/');
  TRY(make_dirs_below(root, m.target.substr(0, slash)));
  std::string point = root + m.target;
  if (S_ISDIR(src.st_mode)) return make_dirs_below(root, m.target);
  int fd = ::open(point.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return fail_errno("create the mount point {}", point);
  Fd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return fail(EINVAL, "mount point {} is not a regular file", point);
  return {};
}

}  // namespace

Result<BindMount> parse_bind_mount(const std::string& text) {
  BindMount m;
  std::vector<std::string> fields;
  std::istringstream parts(text);
  for (std::string f; std::getline(parts, f, ':');) fields.push_back(f);
  if (fields.size() == 3 && (fields[2] == "ro" || fields[2] == "rw")) {
    m.read_only = fields[2] == "ro";
    fields.pop_back();
  }
  if (fields.size() != 2)
    return fail(EINVAL, "--mount '{}': expected SRC:DST or SRC:DST:ro (no ':' in the paths)", text);
  m.source = fields[0];
  m.target = fields[1];
  if (!clean_absolute(m.source) || !clean_absolute(m.target) || m.target == "/")
    return fail(EINVAL, "--mount '{}': SRC and DST must be absolute paths without '..' (DST not /)",
                text);
  return m;
}

Result<void> make_mount_points(const std::string& root, const std::vector<BindMount>& mounts) {
  for (const auto& m : mounts) TRY_CTX(make_point(root, m), "--mount {}:{}", m.source, m.target);
  return {};
}

Result<void> bind_mounts(const std::string& root, const std::vector<BindMount>& mounts) {
  for (const auto& m : mounts) {
    std::string point = root + m.target;
    if (::mount(m.source.c_str(), point.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return fail_errno("bind-mount {} on {}", m.source, point);
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC;
    // nodev, but for a block device named as a disk: the mount is that device and nothing else.
    struct stat st;
    if (::stat(m.source.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) flags |= MS_NODEV;
    if (m.read_only) flags |= MS_RDONLY;
    if (::mount(nullptr, point.c_str(), nullptr, flags, nullptr) != 0)
      return fail_errno("remount {} nosuid,nodev,noexec{}", point, m.read_only ? ",ro" : "");
  }
  return {};
}

}  // namespace vessel::jailer
