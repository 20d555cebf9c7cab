// Internal to vessel_http: the SHA-256 (lower-case hex) of the certificate a GnuTLS session's
// peer presented, as Request::client_cert_sha256 and vesseld's trust store name clients; empty
// when it presented none.
#pragma once

#include <gnutls/gnutls.h>

#include <string>

namespace vessel::http {

std::string peer_certificate_sha256(gnutls_session_t session);

}  // namespace vessel::http
