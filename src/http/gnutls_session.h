// Internal to vessel_http: the server's side of TLS with GnuTLS, for the two places vessel_http
// terminates TLS itself (http/tls_front.h in front of libmicrohttpd, http/tls_stream_server.h):
// credentials, a handshake on an accepted socket, and the relay of the session's plaintext to a
// plain socket.
#pragma once

#include <gnutls/gnutls.h>

#include <chrono>
#include <memory>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::http {

class TlsCredentials {
 public:
  static Result<std::shared_ptr<TlsCredentials>> from_files(const std::string& cert_file, const std::string& key_file);
  static Result<std::shared_ptr<TlsCredentials>> from_pem(const std::string& cert_pem, const std::string& key_pem);
  ~TlsCredentials();
  gnutls_certificate_credentials_t get() const { return cred_; }

 private:
  TlsCredentials() = default;
  gnutls_certificate_credentials_t cred_ = nullptr;
};

struct TlsSession {
  gnutls_session_t s = nullptr;
  Fd socket;
  std::shared_ptr<TlsCredentials> credentials;  // outlives the session
  TlsSession() = default;
  TlsSession(TlsSession&& o) noexcept;
  TlsSession& operator=(TlsSession&&) = delete;
  ~TlsSession();
};

// The handshake on an accepted socket; a client certificate is asked for (`require`: the
// handshake fails without one). It is not verified here: the caller compares its fingerprint
// (peer_certificate_sha256).
Result<TlsSession> tls_accept(std::shared_ptr<TlsCredentials> credentials, Fd socket, bool require,
                              std::chrono::milliseconds timeout);

// The session's plaintext to and from `plain` until `plain` ends or fails (the peer's end of
// TLS is passed on as a half-close of `plain`, and `plain`'s end as TLS's close_notify), or
// `wake` (an eventfd, -1 for none) is signalled. Blocks.
void tls_relay(TlsSession& session, int plain, int wake);

}  // namespace vessel::http
