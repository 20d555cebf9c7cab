// Base64 (RFC 4648, standard alphabet, padded): Docker's path stat header (files/path_stat.h)
// and registry credentials (http/registry_credentials.h).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel {

std::string base64_encode(std::string_view bytes);
// EINVAL for anything but padded standard base64 (no whitespace).
Result<std::string> base64_decode(std::string_view text);

}  // namespace vessel
