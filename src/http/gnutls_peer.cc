#include "http/gnutls_peer.h"

#include <fmt/format.h>

namespace vessel::http {

std::string peer_certificate_sha256(gnutls_session_t session) {
  unsigned count = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(session, &count);
  if (certs == nullptr || count == 0) return {};
  unsigned char digest[32];
  size_t size = sizeof digest;
  if (gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[0], digest, &size) != GNUTLS_E_SUCCESS || size != 32) return {};
  std::string hex;
  for (unsigned char c : digest) hex += fmt::format("{:02x}", c);
  return hex;
}

}  // namespace vessel::http
