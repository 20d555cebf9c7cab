// The secret a receiver of a migration from another host expects before anything else
// (docs/vmm/migration.md, "Token"): 32 random bytes that the destination's vesseld makes, gives its
// receiving vessel-vmm in a file and answers to the source over TLS. Without it, whoever reaches
// the receiver's TCP port first could feed it a VM. It is a bearer secret, not encryption: the
// stream after it is in the clear.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::vmm::migration {

inline constexpr size_t kTokenBytes = 32;

struct Token {
  std::array<uint8_t, kTokenBytes> bytes{};
};

// 64 hex digits (either case); anything else is refused with what was wrong, never echoed.
Result<Token> parse_token_hex(std::string_view text);
// A token file's text: the hex digits, a trailing newline allowed.
Result<Token> read_token_file(const std::string& path);
// Compares in time that depends on the length only: a peer learns nothing from how long a wrong
// guess takes.
bool same_token(const Token& a, const Token& b);

}  // namespace vessel::vmm::migration
