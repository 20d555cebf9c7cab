// Public-key pinning for libcurl (ClientOptions::pinned_public_key): a server is trusted by the
// SHA-256 of its public key, as vesseld publishes it (STATE/tls/server.fingerprint, a node's
// record in the cluster), not by a CA.
#pragma once

#include <string>

#include "base/error.h"

namespace vessel::http {

// A SHA-256 in hex as given (colons and capitals allowed) as 64 lower-case hex digits; EINVAL
// for anything else.
Result<std::string> normalized_sha256(const std::string& hex);

// "sha256//BASE64" from a hex SHA-256 (colons and capitals allowed), as libcurl pins public keys;
// EINVAL for anything but 64 hex digits.
Result<std::string> public_key_pin(const std::string& hex);

}  // namespace vessel::http
