#include "vmm/migration/url.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <charconv>
#include <cstring>

#include "base/unix_socket.h"

namespace vessel::vmm::migration {
namespace {

// "ADDRESS:PORT" with a numeric IPv4 address or a bracketed IPv6 one.
Result<void> parse_tcp(std::string_view rest, Url& url) {
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return fail(EINVAL, "tcp: needs ADDRESS:PORT");
  std::string host(rest.substr(0, colon));
  std::string_view port_text = rest.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return fail(EINVAL, "tcp: port '{}' is not 1 to 65535", port_text);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* a = reinterpret_cast<sockaddr_in6*>(&url.addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a->sin6_addr) != 1)
      return fail(EINVAL, "tcp: '{}' is not a numeric IPv6 address", host);
    url.addr_len = sizeof *a;
    return {};
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&url.addr);
  a->sin_family = AF_INET;
  a->sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1)
    return fail(EINVAL, "tcp: '{}' is not a numeric IPv4 address (or [IPv6]); names are not resolved", host);
  url.addr_len = sizeof *a;
  return {};
}

Fd tcp_socket(const Url& url) {
  return Fd(::socket(url.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

}  // namespace

Result<Url> parse_url(std::string_view text) {
  Url url;
  url.text = std::string(text);
  if (text.starts_with("unix:")) {
    url.path = std::string(text.substr(5));
    if (url.path.empty()) return fail(EINVAL, "migration URL '{}': unix: needs a socket path", text);
    return url;
  }
  if (text.starts_with("tcp:")) {
    url.kind = Url::Kind::Tcp;
    TRY_CTX(parse_tcp(text.substr(4), url), "migration URL '{}'", text);
    return url;
  }
  return fail(EINVAL, "migration URL '{}': expected unix:PATH or tcp:ADDRESS:PORT", text);
}

Result<Fd> connect(const Url& url) {
  if (url.kind == Url::Kind::Unix) return TRY_CTX(unix_socket::connect(url.path), "migration to {}", url.text);
  Fd fd = tcp_socket(url);
  if (!fd) return fail_errno("socket for {}", url.text);
  int rc;
  do rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&url.addr), url.addr_len);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return fail_errno("connect to {}", url.text);
  int one = 1;
  if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) return fail_errno("TCP_NODELAY");
  return fd;
}

Result<Fd> listen(const Url& url) {
  if (url.kind == Url::Kind::Unix) return TRY_CTX(unix_socket::listen(url.path, {0600, 1, false}), "listen on {}", url.text);
  Fd fd = tcp_socket(url);
  if (!fd) return fail_errno("socket for {}", url.text);
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) return fail_errno("SO_REUSEADDR");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&url.addr), url.addr_len) < 0) return fail_errno("bind {}", url.text);
  // Room for a few connections at once: on TCP others may connect before the sender (accept.h
  // closes them one after another), and the sender's connect must not wait behind them.
  if (::listen(fd.get(), 16) < 0) return fail_errno("listen on {}", url.text);
  return fd;
}

Result<Fd> accept_one(int listener, int cancel_fd) {
  for (;;) {
    pollfd fds[] = {{listener, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    int n = ::poll(fds, cancel_fd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("poll the migration listener");
    if (cancel_fd >= 0 && (fds[1].revents & POLLIN)) return fail(ECANCELED, "stopped by a signal before a sender came");
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0 && (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)) continue;
    if (fd < 0) return fail_errno("accept a migration connection");
    return Fd(fd);
  }
}

}  // namespace vessel::vmm::migration
