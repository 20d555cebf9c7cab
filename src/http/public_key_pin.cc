#include "http/public_key_pin.h"

#include <cctype>

#include "base/base64.h"
#include "base/sha256_text.h"

namespace vessel::http {

Result<std::string> normalized_sha256(const std::string& text) {
  std::string h;
  for (char c : text)
    if (c != ':') h += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!is_sha256_hex(h))
    return Unexpected(Error(EINVAL, fmt::format("'{}' is not a SHA-256 public key fingerprint (64 hex digits)", text.substr(0, 200)))
                          .with_hint("copy it from STATE_DIR/tls/server.fingerprint on the server"));
  return h;
}

Result<std::string> public_key_pin(const std::string& text) {
  std::string h = TRY(normalized_sha256(text));
  std::string raw;
  for (size_t i = 0; i < 64; i += 2) raw += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return "sha256//" + base64_encode(raw);
}

}  // namespace vessel::http
