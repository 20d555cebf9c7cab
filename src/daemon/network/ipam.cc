#include "daemon/network/ipam.h"

#include <algorithm>

namespace vessel::daemon {

std::optional<Ipv4> pick_address(const Cidr& subnet, Ipv4 gateway, const std::vector<Ipv4>& taken) {
  std::vector<uint32_t> used;
  used.reserve(taken.size() + 1);
  for (auto a : taken)
    if (subnet.contains(a)) used.push_back(a.value);
  used.push_back(gateway.value);
  std::sort(used.begin(), used.end());
  uint32_t candidate = subnet.first().value + 1;
  uint32_t end = subnet.last().value;  // exclusive: the broadcast address
  for (uint32_t u : used) {
    if (u < candidate) continue;
    if (u > candidate) break;
    ++candidate;  // u == candidate: taken, try the next
  }
  if (candidate >= end) return std::nullopt;
  return Ipv4{candidate};
}

std::optional<Cidr> pick_subnet(const std::vector<Cidr>& used) {
  for (uint32_t n = (10u << 24) | (89u << 16); n < (11u << 24); n += 256) {
    Cidr c{Ipv4{n}, 24};
    if (std::none_of(used.begin(), used.end(), [&](const Cidr& u) { return overlaps(u, c); })) return c;
  }
  return std::nullopt;
}

}  // namespace vessel::daemon
