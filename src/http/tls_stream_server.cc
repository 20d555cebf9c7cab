#include "http/tls_stream_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/gnutls_peer.h"
#include "http/gnutls_session.h"

namespace vessel::http {

namespace {

Result<Fd> bind_any_port(const std::string& address, uint16_t& port) {
  sockaddr_storage ss{};
  socklen_t len;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    len = sizeof *v6;
  } else {
    return fail(EINVAL, "'{}' is not a numeric IPv4 or IPv6 address", address.substr(0, 64));
  }
  Fd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail_errno("bind {}", address);
  if (::listen(fd.get(), 16) != 0) return fail_errno("listen on {}", address);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return fail_errno("getsockname");
  port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return fd;
}

}  // namespace

TlsStreamListener::TlsStreamListener(Fd listener, uint16_t port, TlsStreamOptions options,
                                     std::shared_ptr<TlsCredentials> credentials, Fd wake)
    : listener_(std::move(listener)), port_(port), options_(std::move(options)), credentials_(std::move(credentials)),
      wake_(std::move(wake)) {}

TlsStreamListener::~TlsStreamListener() = default;

Result<std::unique_ptr<TlsStreamListener>> TlsStreamListener::listen(const std::string& address,
                                                                     TlsStreamOptions options) {
  auto credentials = TRY(TlsCredentials::from_files(options.cert_file, options.key_file));
  uint16_t port = 0;
  Fd listener = TRY(bind_any_port(address, port));
  Fd wake(::eventfd(0, EFD_CLOEXEC));
  if (!wake) return fail_errno("eventfd");
  return std::unique_ptr<TlsStreamListener>(
      new TlsStreamListener(std::move(listener), port, std::move(options), std::move(credentials), std::move(wake)));
}

void TlsStreamListener::stop() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

Result<int> TlsStreamListener::serve(const std::function<Result<Fd>()>& open_plain) {
  int refused = 0;
  while (refused < options_.max_refused) {
    pollfd p[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail_errno("poll");
    }
    if (p[1].revents) return fail(ECANCELED, "the TLS stream was stopped before its client came");
    Fd socket(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!socket) continue;
    auto session = tls_accept(credentials_, std::move(socket), true, options_.handshake_timeout);
    if (!session || peer_certificate_sha256(session->s) != options_.client_cert_sha256) {
      ++refused;  // a stranger, a wrong certificate, a handshake that never came
      continue;
    }
    Fd plain = TRY(open_plain());
    tls_relay(*session, plain.get(), wake_.get());
    return refused;
  }
  return fail(EPERM, "{} connections to the TLS stream without the expected certificate: given up", refused);
}

}  // namespace vessel::http
