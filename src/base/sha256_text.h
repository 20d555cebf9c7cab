// How SHA-256 digests are written everywhere in vessel (trust entries, node records, backups,
// pinned keys): 64 lower-case hex digits.
#pragma once

#include <string_view>

namespace vessel {

inline bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace vessel
