#include "http/tls_stream_server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/unix_socket.h"
#include "http/gnutls_peer.h"

namespace vessel::http {

struct TlsStreamListener::Credentials {
  gnutls_certificate_credentials_t cred = nullptr;
  ~Credentials() {
    if (cred) gnutls_certificate_free_credentials(cred);
  }
};

namespace {

struct Session {
  gnutls_session_t s = nullptr;
  Fd socket;
  ~Session() {
    if (s) gnutls_deinit(s);
  }
};

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

// Sends all of `data` as TLS records (a blocking socket); false when the peer is gone.
bool tls_send_all(gnutls_session_t s, const char* data, size_t n) {
  while (n > 0) {
    ssize_t sent = gnutls_record_send(s, data, n);
    if (sent == GNUTLS_E_AGAIN || sent == GNUTLS_E_INTERRUPTED) continue;
    if (sent <= 0) return false;
    data += sent;
    n -= static_cast<size_t>(sent);
  }
  return true;
}

// `plain` <-> the TLS session until `plain` ends, an error, or `wake` is signalled.
void relay(gnutls_session_t s, int tls_fd, int plain, int wake) {
  char buf[65536];
  bool tls_done = false;
  for (;;) {
    bool pending = !tls_done && gnutls_record_check_pending(s) > 0;
    pollfd p[3] = {{tls_fd, static_cast<short>(tls_done ? 0 : POLLIN), 0}, {plain, POLLIN, 0}, {wake, POLLIN, 0}};
    if (::poll(p, 3, pending ? 0 : -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[2].revents) return;
    if (pending || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = gnutls_record_recv(s, buf, sizeof buf);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;
      if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {  // the peer's end: passed on
        tls_done = true;
        ::shutdown(plain, SHUT_WR);
      } else if (n < 0) {
        return;
      } else if (!unix_socket::send_all(plain, std::string_view(buf, static_cast<size_t>(n)))) {
        return;
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(plain, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        gnutls_bye(s, GNUTLS_SHUT_WR);
        return;
      }
      if (!tls_send_all(s, buf, static_cast<size_t>(n))) return;
    }
  }
}

}  // namespace

TlsStreamListener::TlsStreamListener(Fd listener, uint16_t port, TlsStreamOptions options,
                                     std::unique_ptr<Credentials> credentials, Fd wake)
    : listener_(std::move(listener)), port_(port), options_(std::move(options)), credentials_(std::move(credentials)),
      wake_(std::move(wake)) {}

TlsStreamListener::~TlsStreamListener() = default;

Result<std::unique_ptr<TlsStreamListener>> TlsStreamListener::listen(const std::string& address,
                                                                     TlsStreamOptions options) {
  auto credentials = std::make_unique<Credentials>();
  if (int rc = gnutls_certificate_allocate_credentials(&credentials->cred); rc != GNUTLS_E_SUCCESS)
    return fail(ENOMEM, "TLS credentials: {}", gnutls_strerror(rc));
  if (int rc = gnutls_certificate_set_x509_key_file(credentials->cred, options.cert_file.c_str(),
                                                    options.key_file.c_str(), GNUTLS_X509_FMT_PEM);
      rc != GNUTLS_E_SUCCESS)
    return fail(EINVAL, "TLS identity {}: {}", options.cert_file, gnutls_strerror(rc));
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
    Session session;
    session.socket = Fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!session.socket) continue;
    gnutls_init(&session.s, GNUTLS_SERVER);
    gnutls_set_default_priority(session.s);
    gnutls_credentials_set(session.s, GNUTLS_CRD_CERTIFICATE, credentials_->cred);
    gnutls_certificate_server_set_request(session.s, GNUTLS_CERT_REQUIRE);
    gnutls_transport_set_int(session.s, session.socket.get());
    gnutls_handshake_set_timeout(session.s, static_cast<unsigned>(options_.handshake_timeout.count()));
    int rc;
    do rc = gnutls_handshake(session.s);
    while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
    if (rc < 0 || peer_certificate_sha256(session.s) != options_.client_cert_sha256) {
      ++refused;  // a stranger, a wrong certificate, a handshake that never came
      continue;
    }
    Fd plain = TRY(open_plain());
    relay(session.s, session.socket.get(), plain.get(), wake_.get());
    return refused;
  }
  return fail(EPERM, "{} connections to the TLS stream without the expected certificate: given up", refused);
}

}  // namespace vessel::http
