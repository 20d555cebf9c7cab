#include "vmm/uffd_handler/handshake.h"

#include <sys/socket.h>

#include <cstring>

#include "vmm/memory/userfaultfd.h"

namespace vessel::vmm::uffd_handler {
namespace {

constexpr size_t kMaxFds = 8;

// One recvmsg: the data and every fd that came with it (close-on-exec).
Result<std::pair<std::string, std::vector<Fd>>> receive(int sock) {
  std::string data(snapshot::kMaxUffdMessageBytes + 1, '\0');
  iovec iov{data.data(), data.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno("receive the memory mappings");
  std::vector<Fd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) return fail(EPROTO, "the VMM sent more than {} file descriptors", kMaxFds);
  if (n == 0 && fds.empty()) return fail(EPROTO, "the VMM closed the connection without sending the memory mappings");
  data.resize(static_cast<size_t>(n));
  return std::pair{std::move(data), std::move(fds)};
}

}  // namespace

Result<Handshake> check_handshake(std::string_view data, std::vector<Fd> fds, uint64_t file_size, bool (*is_uffd)(int)) {
  if (fds.size() != 1)
    return fail(EPROTO, "the VMM sent {} file descriptors with the memory mappings (exactly one, the userfaultfd, belongs there)",
                fds.size());
  if (!is_uffd(fds[0].get())) return fail(EPROTO, "the file descriptor the VMM sent is not a userfaultfd");
  Handshake h;
  h.regions = TRY(snapshot::decode_uffd_regions(data));
  TRY(snapshot::check_uffd_regions_fit(h.regions, file_size));
  h.uffd = std::move(fds[0]);
  return h;
}

Result<Handshake> accept_vm(int listener, uint64_t file_size) {
  Fd sock;
  for (;;) {
    sock = Fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (sock || errno != EINTR) break;
  }
  if (!sock) return fail_errno("accept a VMM");
  auto [data, fds] = TRY(receive(sock.get()));
  auto h = TRY(check_handshake(data, std::move(fds), file_size, uffd::is_userfaultfd));
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) h.peer_pid = cred.pid;
  h.socket = std::move(sock);
  return h;
}

}  // namespace vessel::vmm::uffd_handler
