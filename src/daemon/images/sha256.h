// SHA-256 of files and strings (OpenSSL), as lower-case hex: how every blob is verified.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::daemon {

Result<std::string> sha256_file(const std::string& path);
std::string sha256_hex(std::string_view data);

}  // namespace vessel::daemon
