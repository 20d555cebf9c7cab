#include "vmm/uffd_handler/handshake.h"

#include <sys/socket.h>

#include "base/unix_socket.h"
#include "vmm/memory/userfaultfd.h"

namespace vessel::vmm::uffd_handler {
namespace {

constexpr size_t kMaxFds = 8;

// One recvmsg: the data and every fd that came with it.
Result<unix_socket::Received> receive(int sock) {
  auto got = unix_socket::recv_with_fds(sock, snapshot::kMaxUffdMessageBytes + 1, kMaxFds);
  if (!got) return Unexpected(std::move(got).error().add_context("receive the memory mappings"));
  if (got->data.empty() && got->fds.empty())
    return fail(EPROTO, "the VMM closed the connection without sending the memory mappings");
  return got;
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
  auto got = TRY(receive(sock.get()));
  auto h = TRY(check_handshake(got.data, std::move(got.fds), file_size, uffd::is_userfaultfd));
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) h.peer_pid = cred.pid;
  h.socket = std::move(sock);
  return h;
}

}  // namespace vessel::vmm::uffd_handler
