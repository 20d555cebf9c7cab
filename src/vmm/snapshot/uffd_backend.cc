#include "vmm/snapshot/uffd_backend.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <thread>

#include "base/log.h"
#include "base/unix_socket.h"
#include "vmm/memory/userfaultfd.h"
#include "vmm/snapshot/uffd_protocol.h"

namespace vessel::vmm::snapshot {
namespace {

constexpr uint64_t kUffdPage = 4096;

std::vector<UffdRegion> mappings(const GuestMemory& memory) {
  std::vector<UffdRegion> out;
  for (const auto& r : memory.regions())
    out.push_back({reinterpret_cast<uint64_t>(r.host), r.size,
                   static_cast<uint64_t>(r.host - memory.host_base()), memory.page_size()});
  return out;
}

// What a readable handler socket means: bytes (not in the protocol) or the handler's end closed.
std::string socket_trouble(int sock) {
  char buf[64];
  ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT | MSG_PEEK);
  if (n > 0) return fmt::format("the page-fault handler sent {}{} bytes on its socket (it must send nothing)", n,
                                n == static_cast<ssize_t>(sizeof buf) ? "+" : "");
  if (n == 0) return "the page-fault handler closed its socket";
  return fmt::format("the page-fault handler's socket failed: {}", strerror(errno));
}

// Touches the first page of guest RAM on another thread (the fault blocks until a page is there)
// and waits for it, or for trouble on the socket, or for the timeout. On failure this thread fills
// the page with zeros itself so that the probe ends, and the error says what the handler did.
Result<void> probe_first_page(int uffd, int sock, const GuestMemory& memory, std::chrono::milliseconds timeout) {
  auto done = TRY(EventFd::create(0, EFD_NONBLOCK | EFD_CLOEXEC));
  const volatile uint8_t* first = memory.host_base();
  std::thread toucher([&] {
    (void)*first;
    (void)done.signal();
  });
  pollfd fds[] = {{done.fd(), POLLIN, 0}, {sock, POLLIN, 0}};
  int n;
  do n = ::poll(fds, 2, static_cast<int>(timeout.count()));
  while (n < 0 && errno == EINTR);
  Result<void> result;
  if (fds[0].revents & POLLIN) result = {};
  else if (n < 0) result = fail_errno("poll the page-fault handler");
  else if (fds[1].revents) result = fail(EPROTO, "{} before serving the first page of guest memory", socket_trouble(sock));
  else result = fail(ETIMEDOUT, "the page-fault handler did not serve the first page of guest memory in {} ms", timeout.count());
  if (!result) {
    // hugetlbfs has no zero page: a huge page is filled with a copy of zeros.
    uint64_t first_page = reinterpret_cast<uint64_t>(memory.host_base());
    std::vector<uint8_t> zeros(memory.page_size() == kUffdPage ? 0 : memory.page_size());
    auto z = zeros.empty() ? uffd::zeropage(uffd, first_page, kUffdPage) : uffd::copy(uffd, first_page, zeros.data(), zeros.size());
    if (!z) log::warn("uffd: end the probe: {}", z.error().to_string());
  }
  toucher.join();
  return result;
}

}  // namespace

Result<UffdBackend> UffdBackend::connect(const GuestMemory& memory, const std::string& socket_path,
                                         std::chrono::milliseconds first_page_timeout) {
  auto fd = TRY(uffd::create());
  for (const auto& r : memory.regions()) TRY(uffd::register_missing(fd.get(), r.host, r.size));
  auto sock = TRY_CTX(unix_socket::connect(socket_path), "connect to the page-fault handler at {}", socket_path);
  TRY_CTX(unix_socket::send_fd(sock.get(), fd.get(), encode_uffd_regions(mappings(memory))),
          "send the memory mappings to the page-fault handler at {}", socket_path);
  TRY_CTX(probe_first_page(fd.get(), sock.get(), memory, first_page_timeout), "page-fault handler {}", socket_path);
  return UffdBackend(std::move(fd), std::move(sock));
}

std::string UffdBackend::describe(short revents) {
  if (revents & (POLLHUP | POLLRDHUP | POLLERR)) return "the page-fault handler closed its socket";
  return "the page-fault handler sent bytes on its socket (it must send nothing)";
}

}  // namespace vessel::vmm::snapshot
