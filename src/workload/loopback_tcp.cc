// net: TCP throughput over the loopback interface of wherever it runs. The same path in each
// place (that kernel's TCP/IP stack on that CPU), not a virtual NIC: vessel's bridge and
// virtio-net throughput are measured in bench/net (docs/benchmarks/net.md).
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "workload/timer.h"
#include "workload/workloads.h"

namespace vessel::workload {

namespace {

constexpr size_t kChunk = 128u << 10;

// A default guest without a network leaves lo down (its /init configures it with eth0 only).
tl::expected<void, std::string> loopback_up() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return tl::unexpected(errno_text("socket"));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  if (ok && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ok = ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  }
  std::string e = ok ? "" : errno_text("bring the loopback interface up");
  ::close(s);
  if (!ok) return tl::unexpected(e);
  return {};
}

// The child: connects, waits for the go byte, sends `bytes`, exits 0 (or 1 on any error).
[[noreturn]] void sender(uint16_t port, uint64_t bytes) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char go = 0;
  if (s < 0 || ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::read(s, &go, 1) != 1)
    ::_exit(1);
  std::unique_ptr<char[]> buf(new char[kChunk]);
  std::memset(buf.get(), 'n', kChunk);
  while (bytes) {
    size_t len = bytes < kChunk ? static_cast<size_t>(bytes) : kChunk;
    ssize_t n = ::send(s, buf.get(), len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(1);
    bytes -= static_cast<uint64_t>(n);
  }
  ::_exit(::close(s) == 0 ? 0 : 1);
}

// Listens on 127.0.0.1, an ephemeral port; returns the socket and its port.
tl::expected<std::pair<int, uint16_t>, std::string> listen_loopback() {
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) return tl::unexpected(errno_text("socket"));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::string e = errno_text("listen on 127.0.0.1");
    ::close(l);
    return tl::unexpected(e);
  }
  return std::pair{l, ntohs(a.sin_port)};
}

// Receives until the sender closes; the byte count.
tl::expected<uint64_t, std::string> receive_all(int c) {
  std::unique_ptr<char[]> buf(new char[kChunk]);
  uint64_t got = 0;
  for (;;) {
    ssize_t n = ::read(c, buf.get(), kChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tl::unexpected(errno_text("receive"));
    if (n == 0) return got;
    got += static_cast<uint64_t>(n);
  }
}

}  // namespace

Result loopback_tcp(uint64_t mib) {
  if (auto up = loopback_up(); !up) return tl::unexpected(up.error());
  auto listening = listen_loopback();
  if (!listening) return tl::unexpected(listening.error());
  auto [l, port] = *listening;
  uint64_t bytes = mib << 20;
  pid_t child = ::fork();
  if (child < 0) {
    std::string e = errno_text("fork");
    ::close(l);
    return tl::unexpected(e);
  }
  if (child == 0) {
    ::close(l);
    sender(port, bytes);
  }
  int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(l);
  tl::expected<uint64_t, std::string> got = tl::unexpected(errno_text("accept"));
  double start = 0, seconds = 0;
  if (c >= 0) {
    start = now_seconds();
    char go = 1;
    got = ::write(c, &go, 1) == 1 ? receive_all(c) : tl::unexpected(errno_text("send the go byte"));
    seconds = now_seconds() - start;
    ::close(c);
  } else {
    ::kill(child, SIGKILL);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!got) return tl::unexpected(got.error());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return tl::unexpected(std::string("the sending process failed"));
  if (*got != bytes)
    return tl::unexpected("received " + std::to_string(*got) + " bytes of " +
                          std::to_string(bytes));
  return Outcome{"net", static_cast<double>(mib), "MiB", seconds, *got};
}

}  // namespace vessel::workload
