// How SHA-256 digests are written everywhere in vessel (trust entries, node records, backups,
// pinned keys): 64 lower-case hex digits.
#pragma once

#include <string_view>

#include "base/random_hex.h"

namespace vessel {

inline bool is_sha256_hex(std::string_view s) { return is_lower_hex(s, 32); }

}  // namespace vessel
