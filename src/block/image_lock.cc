#include "block/image_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <vector>

#include "base/fd.h"
#include "block/block_backend.h"

namespace vessel::block {

namespace {

const char* perm_name(int p) {
  static const char* names[] = {"consistent read", "write", "write unchanged", "resize"};
  return names[p];
}

// F_OFD_SETLK of a read lock (or unlock) on one byte.
int set_byte(int fd, int byte, short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  while (::fcntl(fd, F_OFD_SETLK, &fl) < 0) {
    if (errno != EINTR) return -1;
  }
  return 0;
}

// True when another open file description holds a lock on `byte` (F_OFD_GETLK asks whether a
// write lock could be had: any reader elsewhere blocks it, our own locks never do).
Result<bool> byte_taken(int fd, int byte) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  if (::fcntl(fd, F_OFD_GETLK, &fl) < 0) return fail_errno("test the lock on byte {}", byte);
  return fl.l_type != F_UNLCK;
}

bool unsupported(int e) { return e == EINVAL || e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS; }

void unlock_all(int fd) {
  struct flock fl {};
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = kLockPermBase;
  fl.l_len = kLockSharedBase + 8 - kLockPermBase;
  (void)::fcntl(fd, F_OFD_SETLK, &fl);
}

}  // namespace

std::string lock_holders(int fd, int byte) {
  struct stat want {};
  if (::fstat(fd, &want) < 0) return "";
  std::vector<std::string> found;
  DIR* proc = ::opendir("/proc");
  if (!proc) return "";
  std::string self_fd = std::to_string(fd);
  std::string self_pid = std::to_string(::getpid());
  while (dirent* p = ::readdir(proc)) {
    std::string pid = p->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string fddir = "/proc/" + pid + "/fd";
    DIR* fds = ::opendir(fddir.c_str());
    if (!fds) continue;
    bool holds = false;
    while (dirent* f = ::readdir(fds)) {
      std::string n = f->d_name;
      if (n == "." || n == "..") continue;
      if (pid == self_pid && n == self_fd) continue;
      struct stat st {};
      if (::stat((fddir + "/" + n).c_str(), &st) < 0 || st.st_dev != want.st_dev || st.st_ino != want.st_ino)
        continue;
      auto info = read_file("/proc/" + pid + "/fdinfo/" + n);
      if (!info) continue;
      std::istringstream lines(*info);
      std::string line;
      while (std::getline(lines, line)) {
        if (line.rfind("lock:", 0) != 0) continue;
        // "lock:\t1: OFDLCK ADVISORY  READ -1 fe:00:123 100 101": the last two fields are the range.
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string x; words >> x;) w.push_back(x);
        if (w.size() < 2) continue;
        long start = std::strtol(w[w.size() - 2].c_str(), nullptr, 10);
        long end = w.back() == "EOF" ? (1l << 62) : std::strtol(w.back().c_str(), nullptr, 10);
        if (start <= byte && byte <= end) holds = true;
      }
    }
    ::closedir(fds);
    if (!holds) continue;
    std::string comm = read_file("/proc/" + pid + "/comm").value_or("?");
    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
    found.push_back(fmt::format("pid {} ({}{})", pid, comm, pid == self_pid ? ", this process" : ""));
  }
  ::closedir(proc);
  std::string out;
  for (const auto& f : found) out += (out.empty() ? "" : ", ") + f;
  return out;
}

Result<void> lock_image(int fd, const std::string& path, LockMode mode, bool name_holders) {
  unsigned perm = kPermConsistentRead, unshared = 0;
  if (mode == LockMode::Writer) perm |= kPermWrite | kPermResize;
  if (mode != LockMode::ForceShare) unshared = kPermWrite | kPermResize;
  // Take ours first, then look for others': two openers racing both see each other and both
  // give up, never both succeed (QEMU's order too).
  for (int p = 0; p < 4; ++p) {
    int bytes[2] = {(perm >> p) & 1 ? kLockPermBase + p : -1, (unshared >> p) & 1 ? kLockSharedBase + p : -1};
    for (int b : bytes) {
      if (b < 0 || set_byte(fd, b, F_RDLCK) == 0) continue;
      int e = errno;
      unlock_all(fd);
      if (unsupported(e)) return {};  // no OFD locks on this file system: open without them
      return Unexpected(Error::system(e, fmt::format("lock byte {} of {}", b, path)));
    }
  }
  for (int p = 0; p < 4; ++p) {
    struct Check {
      bool wanted;
      int byte;
      const char* what;
    } checks[2] = {{((perm >> p) & 1) != 0, kLockSharedBase + p, ""}, {((unshared >> p) & 1) != 0, kLockPermBase + p, "shared "}};
    for (const auto& c : checks) {
      if (!c.wanted) continue;
      auto taken = byte_taken(fd, c.byte);
      if (!taken) {
        unlock_all(fd);
        if (unsupported(taken.error().errnum())) return {};
        return Unexpected(std::move(taken).error());
      }
      if (!*taken) continue;
      std::string who = name_holders ? lock_holders(fd, c.byte) : "";
      unlock_all(fd);
      bool other_writes = c.byte == kLockPermBase + 1 || c.byte == kLockPermBase + 3;
      std::string doing = other_writes ? "has it open for writing" : "refuses to share writing";
      std::string hint = mode == LockMode::Writer
                             ? "stop the VM or program that uses the image first"
                             : "stop the writer first, or read anyway with -U (--force-share): the result may be inconsistent";
      return Unexpected(Error(EBUSY, fmt::format("{}: Failed to get {}\"{}\" lock: {} {}", path, c.what, perm_name(p),
                                                  who.empty() ? "another process" : who, doing))
                            .with_hint("is another process using the image? " + hint));
    }
  }
  return {};
}

Result<void> hand_over_image_lock(int fd, const std::string& path, const OpenOptions& options, bool release) {
  if (!options.lock) return {};
  if (release) {
    unlock_all(fd);
    return {};
  }
  // Not naming a holder: a sandboxed thread reads no /proc.
  LockMode mode = options.read_only ? (options.force_share ? LockMode::ForceShare : LockMode::Reader) : LockMode::Writer;
  return lock_image(fd, path, mode, false);
}

Result<void> lock_for_open(int fd, const std::string& path, const OpenOptions& options) {
  if (options.force_share && !options.read_only)
    return fail(EINVAL, "{}: force-share (-U) is only for read-only opens", path);
  if (!options.lock) return {};
  LockMode mode = options.read_only ? (options.force_share ? LockMode::ForceShare : LockMode::Reader) : LockMode::Writer;
  return lock_image(fd, path, mode);
}

}  // namespace vessel::block
