#include "daemon/network/cidr.h"

namespace vessel::daemon {

Result<Ipv4> parse_ipv4(std::string_view text) {
  uint32_t value = 0;
  size_t pos = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (pos >= text.size() || text[pos] != '.') return fail(EINVAL, "'{}' is not an IPv4 address", text);
      ++pos;
    }
    size_t start = pos;
    unsigned n = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 3) n = n * 10 + unsigned(text[pos++] - '0');
    size_t digits = pos - start;
    if (digits == 0 || n > 255 || (digits > 1 && text[start] == '0'))
      return fail(EINVAL, "'{}' is not an IPv4 address", text);
    value = value << 8 | n;
  }
  if (pos != text.size()) return fail(EINVAL, "'{}' is not an IPv4 address", text);
  return Ipv4{value};
}

Result<Cidr> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return Unexpected(Error(EINVAL, fmt::format("'{}' is not a subnet", text)).with_hint("write it as ADDRESS/PREFIX, e.g. 10.89.0.0/24"));
  auto addr = TRY(parse_ipv4(text.substr(0, slash)));
  auto p = text.substr(slash + 1);
  if (p.empty() || p.size() > 2 || p.find_first_not_of("0123456789") != std::string_view::npos || (p.size() == 2 && p[0] == '0'))
    return fail(EINVAL, "'{}': the prefix length must be 0..32", text);
  unsigned prefix = p.size() == 1 ? unsigned(p[0] - '0') : unsigned((p[0] - '0') * 10 + (p[1] - '0'));
  if (prefix > 32) return fail(EINVAL, "'{}': the prefix length must be 0..32", text);
  Cidr c{addr, prefix};
  if ((addr.value & c.mask()) != addr.value)
    return Unexpected(Error(EINVAL, fmt::format("'{}' has host bits set", text))
                          .with_hint(fmt::format("the network is {}", to_string(Cidr{Ipv4{addr.value & c.mask()}, prefix}))));
  return c;
}

std::string to_string(Ipv4 a) {
  return fmt::format("{}.{}.{}.{}", a.value >> 24, (a.value >> 16) & 0xff, (a.value >> 8) & 0xff, a.value & 0xff);
}

std::string to_string(const Cidr& c) { return fmt::format("{}/{}", to_string(c.base), c.prefix); }

std::string netmask_string(unsigned prefix) { return to_string(Ipv4{Cidr{{}, prefix}.mask()}); }

bool overlaps(const Cidr& a, const Cidr& b) {
  unsigned p = std::min(a.prefix, b.prefix);
  uint32_t m = Cidr{{}, p}.mask();
  return (a.base.value & m) == (b.base.value & m);
}

}  // namespace vessel::daemon
