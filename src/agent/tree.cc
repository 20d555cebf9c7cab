// stat, tree-out and tree-in (agent/protocol/tree.h): directory trees as entry messages, each
// file's bytes in data frames after its entry. tree-in follows no symbolic link below the target
// directory: every component is opened O_NOFOLLOW, and an entry's own name is replaced, never
// written through.
#include "agent/protocol/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "agent/handlers.h"

namespace vessel::agent {

namespace {

constexpr int kMaxDepth = 256;

std::string why(const std::string& what) { return what + ": " + std::strerror(errno); }

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string read_link(int dir, const char* name) {
  char buf[4097];
  ssize_t n = ::readlinkat(dir, name, buf, sizeof buf - 1);
  return n < 0 ? std::string() : std::string(buf, size_t(n));
}

TreeEntry entry_of(const struct stat& st, const std::string& rel) {
  TreeEntry e;
  e.path = rel;
  e.mode = st.st_mode;
  e.size = S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0;
  e.mtime = st.st_mtim.tv_sec;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  return e;
}

// Sends exactly `size` bytes of `fd` (a file that shrank is padded with zeros, one that grew is
// cut), then the empty frame.
bool send_file(Channel& ch, int fd, uint64_t size) {
  char buf[32768];
  while (size > 0) {
    ssize_t n = ::read(fd, buf, size_t(std::min<uint64_t>(size, sizeof buf)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      n = ssize_t(std::min<uint64_t>(size, sizeof buf));
      std::memset(buf, 0, size_t(n));
    }
    if (!ch.send_data(Stream::Stdout, {buf, size_t(n)})) return false;
    size -= uint64_t(n);
  }
  return ch.send_data(Stream::Stdout, {});
}

// One object and, for a directory, what is under it. False: the connection is gone or an error
// was sent.
bool walk(Channel& ch, int fd, const struct stat& st, int dir, const char* name,
          const std::string& rel, int depth) {
  if (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
    return true;  // only files, directories and links travel
  TreeEntry e = entry_of(st, rel);
  if (S_ISLNK(st.st_mode)) {
    e.target = read_link(dir, name);
    if (e.target.empty()) return true;
  }
  if (!ch.send_control(to_json(e))) return false;
  if (S_ISREG(st.st_mode)) return send_file(ch, fd, e.size);
  if (!S_ISDIR(st.st_mode)) return true;
  if (depth > kMaxDepth) {
    ch.send_control(error_reply(rel + ": directories nested deeper than 256 levels"));
    return false;
  }
  int listed = ::dup(fd);
  DIR* d = listed < 0 ? nullptr : ::fdopendir(listed);
  if (!d) {
    if (listed >= 0) ::close(listed);
    ch.send_control(error_reply(why("read directory /" + rel)));
    return false;
  }
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    struct stat cst;
    if (::fstatat(fd, n.c_str(), &cst, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    int flags = S_ISDIR(cst.st_mode)   ? O_RDONLY | O_DIRECTORY
                : S_ISREG(cst.st_mode) ? O_RDONLY
                                       : O_PATH;
    Fd child(::openat(fd, n.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (child.fd < 0) continue;
    std::string child_rel = rel.empty() ? n : rel + "/" + n;
    if (!walk(ch, child.fd, cst, fd, n.c_str(), child_rel, depth + 1)) return false;
  }
  return true;
}

}  // namespace

void run_stat(Channel& ch, const StatRequest& req) {
  struct stat st;
  if (::fstatat(AT_FDCWD, req.path.c_str(), &st, req.follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      ch.send_control(ok_reply(to_json(PathInfo{})));
    else
      ch.send_control(error_reply(why(req.path)));
    return;
  }
  PathInfo info{
      true, st.st_mode, S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0, st.st_mtim.tv_sec, {}};
  if (S_ISLNK(st.st_mode)) info.target = read_link(AT_FDCWD, req.path.c_str());
  ch.send_control(ok_reply(to_json(info)));
}

void run_tree_out(Channel& ch, const TreeOutRequest& req) {
  int nofollow = req.follow ? 0 : O_NOFOLLOW;
  struct stat st;
  Fd at(::open(req.path.c_str(), O_PATH | nofollow | O_CLOEXEC));
  if (at.fd < 0 || ::fstat(at.fd, &st) != 0) {
    ch.send_control(error_reply(why(req.path)));
    return;
  }
  int flags = S_ISDIR(st.st_mode)   ? O_RDONLY | O_DIRECTORY
              : S_ISREG(st.st_mode) ? O_RDONLY | O_NONBLOCK
                                    : -1;
  Fd fd(flags < 0 ? -1 : ::open(req.path.c_str(), flags | nofollow | O_CLOEXEC));
  if (flags >= 0 && fd.fd < 0) {
    ch.send_control(error_reply(why(req.path)));
    return;
  }
  if (!ch.send_control(ok_reply())) return;
  // The top's link target is read through its O_PATH fd (readlinkat with an empty name).
  if (walk(ch, fd.fd >= 0 ? fd.fd : at.fd, st, at.fd, "", "", 0)) ch.send_control(tree_end());
}

namespace {

struct DirMode {
  std::string rel;
  uint32_t mode;
  int64_t mtime;
};

class TreeWriter {
 public:
  TreeWriter(Channel& ch, int top, bool owners) : ch_(ch), top_(top), owners_(owners) {}
  // An error message, or "" when the entry (and its data) landed.
  std::string entry(const TreeEntry& e);
  std::string finish();
  uint64_t entries = 0, bytes = 0;

 private:
  // The directory holding `rel`'s last component, made as needed, no link followed.
  int parent_of(const std::string& rel, std::string& name, std::string& error);
  std::string receive(int fd, const TreeEntry& e);
  std::string meta(int dir, const std::string& name, int fd, const TreeEntry& e);

  Channel& ch_;
  int top_;
  bool owners_;
  std::vector<DirMode> dirs_;
};

int TreeWriter::parent_of(const std::string& rel, std::string& name, std::string& error) {
  int cur = ::dup(top_);
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) {
      name = rel.substr(start);
      return cur;
    }
    std::string part = rel.substr(start, slash - start);
    int next = ::openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && ::mkdirat(cur, part.c_str(), 0755) == 0)
      next = ::openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      error = why(rel.substr(0, slash) + " (a directory, not a symbolic link, is needed there)");
      ::close(cur);
      return -1;
    }
    ::close(cur);
    cur = next;
    start = slash + 1;
  }
}

std::string TreeWriter::receive(int fd, const TreeEntry& e) {
  uint64_t got = 0;
  for (;;) {
    auto f = ch_.read_frame();
    if (!f) return "the host went away in the middle of " + e.path;
    if (f->kind != FrameKind::Data || f->stream != uint8_t(Stream::Stdin))
      return "expected the data of " + e.path;
    if (f->payload.empty()) break;
    got += f->payload.size();
    if (got > e.size) return e.path + ": more bytes than its entry announced";
    size_t off = 0;
    while (off < f->payload.size()) {
      ssize_t n = ::write(fd, f->payload.data() + off, f->payload.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return why("write " + e.path);
      off += size_t(n);
    }
  }
  if (got != e.size) return e.path + ": fewer bytes than its entry announced";
  bytes += got;
  return "";
}

std::string TreeWriter::meta(int dir, const std::string& name, int fd, const TreeEntry& e) {
  if (owners_ && (fd >= 0 ? ::fchown(fd, e.uid, e.gid)
                          : ::fchownat(dir, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW)) != 0)
    return why("chown " + e.path);
  if (S_ISLNK(e.mode) || S_ISDIR(e.mode)) return "";
  uint32_t perm = e.mode & (owners_ ? 07777 : 01777);
  if (::fchmod(fd, perm) != 0) return why("chmod " + e.path);
  timespec t[2] = {{e.mtime, 0}, {e.mtime, 0}};
  (void)::futimens(fd, t);
  return "";
}

std::string TreeWriter::entry(const TreeEntry& e) {
  ++entries;
  if (e.path.empty()) return "";  // the target directory itself: it exists
  std::string name, error;
  int raw = parent_of(e.path, name, error);
  if (raw < 0) return error;
  Fd dir(raw);
  struct stat st;
  bool exists = ::fstatat(dir.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && S_ISDIR(st.st_mode) != S_ISDIR(e.mode))
    return e.path + ": a directory and a non-directory do not replace each other";
  if (exists && !S_ISDIR(st.st_mode) && ::unlinkat(dir.fd, name.c_str(), 0) != 0)
    return why("replace " + e.path);
  if (S_ISDIR(e.mode)) {
    if (!exists && ::mkdirat(dir.fd, name.c_str(), 0700) != 0) return why("mkdir " + e.path);
    Fd d(::openat(dir.fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (d.fd < 0) return why("open " + e.path);
    dirs_.push_back({e.path, e.mode & 07777, e.mtime});
    return meta(dir.fd, name, d.fd, e);
  }
  if (S_ISLNK(e.mode)) {
    if (::symlinkat(e.target.c_str(), dir.fd, name.c_str()) != 0) return why("symlink " + e.path);
    return meta(dir.fd, name, -1, e);
  }
  Fd f(::openat(dir.fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (f.fd < 0) return why("create " + e.path);
  auto received = receive(f.fd, e);
  if (!received.empty()) return received;
  return meta(dir.fd, name, f.fd, e);
}

std::string TreeWriter::finish() {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    std::string name, error;
    int raw = parent_of(it->rel, name, error);
    if (raw < 0) continue;
    Fd dir(raw);
    Fd d(::openat(dir.fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (d.fd < 0) continue;
    if (::fchmod(d.fd, it->mode & (owners_ ? 07777 : 01777)) != 0) return why("chmod " + it->rel);
    timespec t[2] = {{it->mtime, 0}, {it->mtime, 0}};
    (void)::futimens(d.fd, t);
  }
  return "";
}

}  // namespace

void run_tree_in(Channel& ch, const TreeInRequest& req) {
  Fd top(::open(req.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (top.fd < 0) {
    ch.send_control(error_reply(why(req.path)));
    return;
  }
  if (!ch.send_control(ok_reply())) return;
  TreeWriter writer(ch, top.fd, req.owners);
  for (;;) {
    auto f = ch.read_frame();
    if (!f) return;  // the host went away: nothing to answer
    if (f->kind != FrameKind::Control) {
      ch.send_control(error_reply("expected an entry"));
      return;
    }
    auto msg = parse_tree_message(f->payload);
    if (!msg) {
      ch.send_control(error_reply(msg.error()));
      return;
    }
    if (!*msg) break;
    auto error = writer.entry(**msg);
    if (!error.empty()) {
      ch.send_control(error_reply(error));
      return;
    }
  }
  auto error = writer.finish();
  if (!error.empty())
    ch.send_control(error_reply(error));
  else
    ch.send_control(ok_reply({{"entries", writer.entries}, {"bytes", writer.bytes}}));
}

}  // namespace vessel::agent
