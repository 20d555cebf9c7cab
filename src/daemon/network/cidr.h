// IPv4 addresses and prefixes as vessel's networks use them: parsed strictly (four decimal
// octets, no leading zeros, a prefix 0..32), compared and printed without the C library's
// lenient inet_aton ("10.1" is not an address here).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::daemon {

struct Ipv4 {
  uint32_t value = 0;  // host byte order
  friend bool operator==(Ipv4, Ipv4) = default;
  friend auto operator<=>(Ipv4, Ipv4) = default;
};

struct Cidr {
  Ipv4 base;          // the network address (host bits zero)
  unsigned prefix = 0;
  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  Ipv4 first() const { return base; }
  Ipv4 last() const { return Ipv4{base.value | ~mask()}; }
  bool contains(Ipv4 a) const { return (a.value & mask()) == base.value; }
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

Result<Ipv4> parse_ipv4(std::string_view text);
// "10.88.0.0/16"; host bits must be zero ("10.88.0.1/16" is refused with the network named).
Result<Cidr> parse_cidr(std::string_view text);
std::string to_string(Ipv4 a);
std::string to_string(const Cidr& c);
// "255.255.0.0"
std::string netmask_string(unsigned prefix);
bool overlaps(const Cidr& a, const Cidr& b);

}  // namespace vessel::daemon
