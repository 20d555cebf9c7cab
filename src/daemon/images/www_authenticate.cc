#include "daemon/images/www_authenticate.h"

#include <cctype>

namespace vessel::daemon {

namespace {

constexpr size_t kMaxHeader = 8192;
constexpr size_t kMaxParams = 32;

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void skip_spaces(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

std::string_view read_token(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && token_char(s[i])) ++i;
  return s.substr(start, i - start);
}

Result<std::string> read_quoted(std::string_view s, size_t& i) {
  std::string out;
  for (++i; i < s.size(); ++i) {
    if (s[i] == '"') {
      ++i;
      return out;
    }
    if (s[i] == '\\') {
      if (++i == s.size()) break;
    }
    out += s[i];
  }
  return fail(EINVAL, "WWW-Authenticate: unterminated quoted string");
}

}  // namespace

Result<AuthChallenge> parse_www_authenticate(std::string_view header) {
  if (header.size() > kMaxHeader) return fail(EINVAL, "WWW-Authenticate: header of {} bytes", header.size());
  AuthChallenge c;
  size_t i = 0;
  skip_spaces(header, i);
  auto scheme = read_token(header, i);
  if (scheme.empty()) return fail(EINVAL, "WWW-Authenticate: no authentication scheme in '{}'", header);
  c.scheme = lower(scheme);
  while (true) {
    skip_spaces(header, i);
    if (i == header.size()) break;
    size_t start = i;
    auto name = read_token(header, i);
    skip_spaces(header, i);
    if (name.empty() || i == header.size() || header[i] != '=') {
      // The next challenge ("Basic realm=x, Bearer ...") or a token68: this challenge ends here.
      if (start != 0 && !name.empty()) break;
      return fail(EINVAL, "WWW-Authenticate: expected name=value at offset {}", start);
    }
    ++i;
    skip_spaces(header, i);
    std::string value;
    if (i < header.size() && header[i] == '"') value = TRY(read_quoted(header, i));
    else value = std::string(read_token(header, i));
    if (c.params.size() >= kMaxParams) return fail(EINVAL, "WWW-Authenticate: more than {} parameters", kMaxParams);
    c.params[lower(name)] = value;
    skip_spaces(header, i);
    if (i == header.size()) break;
    if (header[i] != ',') return fail(EINVAL, "WWW-Authenticate: expected ',' at offset {}", i);
    ++i;
  }
  return c;
}

}  // namespace vessel::daemon
