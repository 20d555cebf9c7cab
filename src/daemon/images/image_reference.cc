#include "daemon/images/image_reference.h"

#include <arpa/inet.h>

#include "daemon/images/image_manifest.h"

namespace vessel::daemon {

namespace {

constexpr size_t kMaxName = 255;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A path component: lowercase letters and digits, separated by '.', '_', "__" or dashes.
Result<void> check_component(std::string_view c, std::string_view ref) {
  if (c.empty()) return fail(EINVAL, "image reference '{}' has an empty path component", ref);
  if (!lower_alnum(c.front()) || !lower_alnum(c.back()))
    return fail(EINVAL, "image reference '{}': '{}' must start and end with a lowercase letter or digit", ref, c);
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (lower_alnum(ch) || ch == '-') continue;
    if (ch == '.' || ch == '_') {
      bool double_underscore = ch == '_' && i + 1 < c.size() && c[i + 1] == '_';
      if (double_underscore) ++i;
      if (i + 1 < c.size() && !lower_alnum(c[i + 1]))
        return fail(EINVAL, "image reference '{}': '{}' has two separators in a row", ref, c);
      continue;
    }
    return Unexpected(Error(EINVAL, fmt::format("image reference '{}' contains '{}'", ref, std::string(1, ch)))
                          .with_hint("repository names are lowercase letters, digits, '.', '_', '-' and '/'"));
  }
  return {};
}

Result<void> check_tag(std::string_view tag, std::string_view ref) {
  auto word = [](char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (tag.empty() || tag.size() > 128 || !word(tag.front()))
    return fail(EINVAL, "image reference '{}': invalid tag '{}'", ref, tag);
  for (char c : tag)
    if (!word(c) && c != '.' && c != '-') return fail(EINVAL, "image reference '{}': invalid tag '{}'", ref, tag);
  return {};
}

bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

bool digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// A host name: dot-separated labels of letters, digits and inner dashes (Docker's domain rule).
bool valid_host_name(std::string_view h) {
  if (h.empty()) return false;
  for (size_t pos = 0;;) {
    auto dot = h.find('.', pos);
    auto label = h.substr(pos, dot == std::string_view::npos ? dot : dot - pos);
    if (label.empty() || !alnum(label.front()) || !alnum(label.back())) return false;
    for (char c : label)
      if (!alnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    pos = dot + 1;
  }
}

// HOST[:PORT] or [IPv6][:PORT].
Result<void> check_domain(std::string_view d, std::string_view ref) {
  auto bad = [&] { return fail(EINVAL, "image reference '{}': invalid registry '{}'", ref, d); };
  if (d.empty()) return fail(EINVAL, "image reference '{}' has an empty registry", ref);
  std::string_view host = d, port;
  if (d.front() == '[') {
    auto close = d.find(']');
    if (close == std::string_view::npos || close == 1) return bad();
    if (d.substr(1, close - 1).find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) return bad();
    auto after = d.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !digits(after.substr(1)))) return bad();
    return {};
  }
  if (auto colon = d.rfind(':'); colon != std::string_view::npos) {
    host = d.substr(0, colon);
    port = d.substr(colon + 1);
    if (!digits(port) || port.size() > 5) return bad();
  }
  if (!valid_host_name(host)) return bad();
  return {};
}

bool looks_like_domain(std::string_view first) {
  return !first.empty() && (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
                            first == "localhost" || first.front() == '[');
}

}  // namespace

std::string ImageReference::to_string() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string ImageReference::api_host() const { return domain == "docker.io" ? "registry-1.docker.io" : domain; }

Result<ImageReference> parse_image_reference(std::string_view text) {
  if (text.empty()) return fail(EINVAL, "the image reference is empty");
  if (text.size() > kMaxName + 200) return fail(EINVAL, "the image reference is {} bytes long", text.size());
  ImageReference r;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    r.digest = std::string(rest.substr(at + 1));
    TRY_CTX(parse_digest(r.digest, "digest"), "image reference '{}'", text);
    rest = rest.substr(0, at);
  }
  auto slash = rest.find('/');
  if (slash != std::string_view::npos && looks_like_domain(rest.substr(0, slash))) {
    r.domain = std::string(rest.substr(0, slash));
    TRY(check_domain(r.domain, text));
    rest = rest.substr(slash + 1);
  } else {
    r.domain = "docker.io";
  }
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos) {
    r.tag = std::string(rest.substr(colon + 1));
    TRY(check_tag(r.tag, text));
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return fail(EINVAL, "image reference '{}' names no repository", text);
  if (rest.size() > kMaxName) return fail(EINVAL, "image reference '{}': the name is longer than {}", text, kMaxName);
  for (size_t pos = 0;;) {
    auto next = rest.find('/', pos);
    TRY(check_component(rest.substr(pos, next == std::string_view::npos ? next : next - pos), text));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  r.repository = std::string(rest);
  if (r.domain == "docker.io" && r.repository.find('/') == std::string::npos) r.repository = "library/" + r.repository;
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  return r;
}

bool is_loopback_registry(std::string_view host) {
  std::string h(host);
  if (!h.empty() && h.front() == '[') {  // [v6]:port
    auto close = h.find(']');
    h = close == std::string::npos ? "" : h.substr(1, close - 1);
  } else if (auto colon = h.rfind(':'); colon != std::string::npos) {
    h = h.substr(0, colon);
  }
  if (h == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, h.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace vessel::daemon
