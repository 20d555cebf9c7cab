// Random names and secrets from getrandom(2), written as lower-case hex.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vessel {

// `bytes` random bytes as 2 * bytes hex digits. getrandom(2) blocks only until the kernel's pool
// is first initialized (early boot).
std::string random_hex(size_t bytes);
// Whether `text` is what random_hex(bytes) makes: 2 * bytes lower-case hex digits.
inline bool is_lower_hex(std::string_view text, size_t bytes) {
  return text.size() == 2 * bytes && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace vessel
