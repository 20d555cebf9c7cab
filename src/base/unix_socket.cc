#include "base/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace vessel::unix_socket {

namespace {

Result<sockaddr_un> address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return fail(EINVAL, "empty socket path");
  if (path.size() >= sizeof addr.sun_path)
    return fail(ENAMETOOLONG, "socket path {} is longer than {} bytes", path, sizeof addr.sun_path - 1);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// A socket file something still listens on belongs to a live process (another vesseld, a running
// VMM): replacing it would leave that process unreachable. Only a stale one (connection refused)
// may be replaced.
Result<void> refuse_a_live_socket(const std::string& path) {
  auto addr = TRY(address(path));
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe) return fail_errno("socket");
  if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN)
    return fail(EADDRINUSE, "{} is in use: a process is listening on it; stop that process or choose another path", path);
  if (errno != ECONNREFUSED && errno != ENOENT) return fail_errno("check whether {} is in use", path);
  return {};
}

}  // namespace

Result<Fd> listen(const std::string& path, const ListenOptions& options) {
  auto addr = TRY(address(path));
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (!fd) return fail_errno("socket");
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return fail(EEXIST, "{} exists and is not a socket; refusing to replace it", path);
    TRY(refuse_a_live_socket(path));
    ::unlink(path.c_str());
  }
  // Bound and listening under a temporary name, then renamed: whoever waits for the file finds a
  // socket that takes connections (bind() makes the file before listen()). A path too long for
  // the temporary name is bound in place.
  std::string tmp = fmt::format("{}.{}.tmp", path, ::getpid());
  auto tmp_addr = address(tmp);
  const std::string& bound = tmp_addr ? tmp : path;
  if (tmp_addr) ::unlink(tmp.c_str());
  sockaddr_un where = tmp_addr ? *tmp_addr : addr;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&where), sizeof where) < 0) return fail_errno("cannot bind {}", bound);
  if (::chmod(bound.c_str(), options.mode) < 0 || ::listen(fd.get(), options.backlog) < 0 ||
      (tmp_addr && ::rename(tmp.c_str(), path.c_str()) < 0)) {
    int saved = errno;
    ::unlink(bound.c_str());
    errno = saved;
    return fail_errno("listen on {}", path);
  }
  return fd;
}

Result<Fd> connect(const std::string& path) {
  auto addr = TRY(address(path));
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  int rc;
  do rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return fail_errno("connect to {}", path);
  return fd;
}

Result<void> send_fd(int sock, int fd, std::string_view payload) {
  std::string data = payload.empty() ? std::string("\0", 1) : std::string(payload);
  iovec iov{data.data(), data.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
    if (errno != EINTR) return fail_errno("send file descriptor");
  return {};
}

Result<Received> recv_with_fds(int sock, size_t max_bytes, size_t max_fds) {
  Received got;
  got.data.resize(max_bytes);
  iovec iov{got.data.data(), got.data.size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * max_fds));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno("recvmsg");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      got.fds.emplace_back(fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) return fail(EPROTO, "the peer sent more than {} file descriptors", max_fds);
  got.data.resize(static_cast<size_t>(n));
  return got;
}

Result<Fd> recv_fd(int sock) {
  auto got = TRY(recv_with_fds(sock, 512, 1));
  if (got.fds.size() != 1) return fail(EPROTO, "no file descriptor received");
  return std::move(got.fds[0]);
}

Result<void> send_all(int sock, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(sock, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // A non-blocking socket whose peer reads slowly: wait as a blocking one would.
      pollfd p{sock, POLLOUT, 0};
      if (::poll(&p, 1, -1) < 0 && errno != EINTR) return fail_errno("poll");
      continue;
    }
    if (n < 0) return fail_errno("send");
    if (n == 0) return fail(EPIPE, "send: connection closed");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace vessel::unix_socket
