#include "http/gnutls_session.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/unix_socket.h"

namespace vessel::http {

namespace {

Result<void> allocated(gnutls_certificate_credentials_t& cred) {
  if (int rc = gnutls_certificate_allocate_credentials(&cred); rc != GNUTLS_E_SUCCESS)
    return fail(ENOMEM, "TLS credentials: {}", gnutls_strerror(rc));
  return {};
}

// Sends all of `data` as TLS records (a blocking socket); false when the peer is gone.
bool send_records(gnutls_session_t s, const char* data, size_t n) {
  while (n > 0) {
    ssize_t sent = gnutls_record_send(s, data, n);
    if (sent == GNUTLS_E_AGAIN || sent == GNUTLS_E_INTERRUPTED) continue;
    if (sent <= 0) return false;
    data += sent;
    n -= static_cast<size_t>(sent);
  }
  return true;
}

}  // namespace

Result<std::shared_ptr<TlsCredentials>> TlsCredentials::from_files(const std::string& cert_file,
                                                                   const std::string& key_file) {
  std::shared_ptr<TlsCredentials> c(new TlsCredentials);
  TRY(allocated(c->cred_));
  if (int rc = gnutls_certificate_set_x509_key_file(c->cred_, cert_file.c_str(), key_file.c_str(), GNUTLS_X509_FMT_PEM);
      rc != GNUTLS_E_SUCCESS)
    return fail(EINVAL, "TLS identity {}: {}", cert_file, gnutls_strerror(rc));
  return c;
}

Result<std::shared_ptr<TlsCredentials>> TlsCredentials::from_pem(const std::string& cert_pem, const std::string& key_pem) {
  std::shared_ptr<TlsCredentials> c(new TlsCredentials);
  TRY(allocated(c->cred_));
  gnutls_datum_t cert{reinterpret_cast<unsigned char*>(const_cast<char*>(cert_pem.data())),
                      static_cast<unsigned>(cert_pem.size())};
  gnutls_datum_t key{reinterpret_cast<unsigned char*>(const_cast<char*>(key_pem.data())),
                     static_cast<unsigned>(key_pem.size())};
  if (int rc = gnutls_certificate_set_x509_key_mem(c->cred_, &cert, &key, GNUTLS_X509_FMT_PEM); rc != GNUTLS_E_SUCCESS)
    return fail(EINVAL, "the TLS key and certificate: {}", gnutls_strerror(rc));
  return c;
}

TlsCredentials::~TlsCredentials() {
  if (cred_) gnutls_certificate_free_credentials(cred_);
}

TlsSession::TlsSession(TlsSession&& o) noexcept
    : s(std::exchange(o.s, nullptr)), socket(std::move(o.socket)), credentials(std::move(o.credentials)) {}

TlsSession::~TlsSession() {
  if (s) gnutls_deinit(s);
}

Result<TlsSession> tls_accept(std::shared_ptr<TlsCredentials> credentials, Fd socket, bool require,
                              std::chrono::milliseconds timeout) {
  TlsSession session;
  session.credentials = std::move(credentials);
  session.socket = std::move(socket);
  if (int rc = gnutls_init(&session.s, GNUTLS_SERVER); rc != GNUTLS_E_SUCCESS)
    return fail(ENOMEM, "TLS session: {}", gnutls_strerror(rc));
  gnutls_set_default_priority(session.s);
  gnutls_credentials_set(session.s, GNUTLS_CRD_CERTIFICATE, session.credentials->get());
  gnutls_certificate_server_set_request(session.s, require ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
  gnutls_transport_set_int(session.s, session.socket.get());
  gnutls_handshake_set_timeout(session.s, static_cast<unsigned>(timeout.count()));
  int rc;
  do rc = gnutls_handshake(session.s);
  while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
  if (rc < 0) return fail(EPROTO, "TLS handshake: {}", gnutls_strerror(rc));
  return session;
}

void tls_relay(TlsSession& session, int plain, int wake) {
  gnutls_session_t s = session.s;
  int tls_fd = session.socket.get();
  char buf[65536];
  bool tls_done = false;
  for (;;) {
    bool pending = !tls_done && gnutls_record_check_pending(s) > 0;
    pollfd p[3] = {{tls_fd, static_cast<short>(tls_done ? 0 : POLLIN), 0}, {plain, POLLIN, 0}, {wake, POLLIN, 0}};
    if (::poll(p, wake >= 0 ? 3 : 2, pending ? 0 : -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (wake >= 0 && p[2].revents) return;
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
      if (!send_records(s, buf, static_cast<size_t>(n))) return;
    }
  }
}

}  // namespace vessel::http
