#include "vmm/migration/token.h"

#include "base/fd.h"

namespace vessel::vmm::migration {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Token> parse_token_hex(std::string_view text) {
  if (text.size() != 2 * kTokenBytes)
    return fail(EINVAL, "a migration token is {} hex digits, not {} characters", 2 * kTokenBytes, text.size());
  Token token;
  for (size_t i = 0; i < kTokenBytes; ++i) {
    int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return fail(EINVAL, "a migration token is hex digits only");
    token.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return token;
}

Result<Token> read_token_file(const std::string& path) {
  auto text = TRY_CTX(read_file(path), "the migration token file");
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return TRY_CTX(parse_token_hex(text), "the migration token file {}", path);
}

bool same_token(const Token& a, const Token& b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < kTokenBytes; ++i) diff |= a.bytes[i] ^ b.bytes[i];
  return diff == 0;
}

}  // namespace vessel::vmm::migration
