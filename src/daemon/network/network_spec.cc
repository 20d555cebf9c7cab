#include "daemon/network/network_spec.h"

#include <algorithm>

#include "daemon/spec/spec.h"

namespace vessel::daemon {

namespace {

Result<void> validate_network_name(const std::string& name) {
  TRY(validate_name(name));
  if (name == kNetworkNone || name == kNetworkHost)
    return fail(EINVAL, "'{}' is reserved: --network {} means {}", name, name,
                name == kNetworkNone ? "no network but loopback" : "the host's network");
  return {};
}

}  // namespace

Result<NetworkRequest> parse_network_request(std::string_view body) {
  auto j = TRY_CTX(json::parse(body, 1 << 16), "network");
  if (!j.is_object()) return fail(EINVAL, "network: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "network", {"name", "subnet", "gateway", "internal"}));
  NetworkRequest r;
  r.name = TRY(json::get_string(j, "network", "name"));
  TRY_CTX(validate_network_name(r.name), "network.name");
  if (auto s = TRY(json::opt_string(j, "network", "subnet")); s && !s->empty())
    r.subnet = TRY_CTX(parse_cidr(*s), "network.subnet");
  if (auto g = TRY(json::opt_string(j, "network", "gateway")); g && !g->empty())
    r.gateway = TRY_CTX(parse_ipv4(*g), "network.gateway");
  if (r.gateway && !r.subnet)
    return Unexpected(Error(EINVAL, "network.gateway: a gateway needs its subnet").with_hint("pass --subnet too"));
  r.internal = TRY(json::opt_bool(j, "network", "internal")).value_or(false);
  return r;
}

Result<void> validate_network(const NetworkSpec& spec, const std::vector<NetworkSpec>& others,
                              const std::vector<HostRoute>& routes, const std::vector<std::string>& own_bridges) {
  const Cidr& net = spec.subnet;
  if (net.prefix < 8 || net.prefix > 30)
    return fail(EINVAL, "subnet {}: the prefix must be /8../30 (room for a gateway and instances)", to_string(net));
  if (!net.contains(spec.gateway))
    return fail(EINVAL, "gateway {} is outside the subnet {}", to_string(spec.gateway), to_string(net));
  if (spec.gateway == net.first() || spec.gateway == net.last())
    return fail(EINVAL, "gateway {} is the {} address of {}", to_string(spec.gateway),
                spec.gateway == net.first() ? "network" : "broadcast", to_string(net));
  for (const auto& o : others)
    if (o.name != spec.name && overlaps(o.subnet, net))
      return Unexpected(Error(EINVAL, fmt::format("subnet {} overlaps network {} ({})", to_string(net), o.name, to_string(o.subnet)))
                            .with_hint("pick another --subnet (`vessel network ls` shows the subnets in use)"));
  for (const auto& r : routes) {
    if (r.dest.prefix == 0) continue;  // the default route overlaps everything
    if (std::find(own_bridges.begin(), own_bridges.end(), r.ifname) != own_bridges.end()) continue;
    if (overlaps(r.dest, net))
      return Unexpected(Error(EINVAL, fmt::format("subnet {} overlaps the host's route to {} on {}", to_string(net),
                                                  to_string(r.dest), r.ifname))
                            .with_hint("the host would no longer reach that network; pick another --subnet"));
  }
  return {};
}

json::Json to_json(const NetworkSpec& s) {
  return {{"name", s.name}, {"subnet", to_string(s.subnet)}, {"gateway", to_string(s.gateway)},
          {"internal", s.internal}, {"bridge", s.bridge}, {"driver", "bridge"}};
}

Result<NetworkSpec> network_from_json(std::string_view text) {
  auto j = TRY(json::parse(text, 1 << 16));
  if (!j.is_object()) return fail(EINVAL, "stored network: not an object");
  NetworkSpec s;
  s.name = TRY(json::get_string(j, "network", "name"));
  s.subnet = TRY(parse_cidr(TRY(json::get_string(j, "network", "subnet"))));
  s.gateway = TRY(parse_ipv4(TRY(json::get_string(j, "network", "gateway"))));
  s.internal = TRY(json::opt_bool(j, "network", "internal")).value_or(false);
  s.bridge = TRY(json::get_string(j, "network", "bridge"));
  return s;
}

}  // namespace vessel::daemon
