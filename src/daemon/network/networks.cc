#include "daemon/network/networks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/fd.h"
#include "base/log.h"
#include "daemon/network/etc_files.h"
#include "daemon/network/host_ports.h"
#include "daemon/network/host_routes.h"
#include "daemon/network/ipam.h"
#include "daemon/network/netns.h"
#include "daemon/network/nft_ruleset.h"
#include "daemon/network/nftables.h"
#include "daemon/network/rtnetlink.h"

namespace vessel::daemon {

namespace {

std::string short_hash(std::string_view s) {
  uint32_t h = 2166136261u;  // FNV-1a: stable across builds and restarts
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return fmt::format("{:08x}", h);
}

bool is_bridge_network(const std::string& network) {
  return !network.empty() && network != kNetworkNone && network != kNetworkHost;
}

void write_sysctl(const std::string& path, const char* value) {
  if (auto r = write_file(path, value); !r) log::warn("cannot set {}: {}", path, r.error().to_string());
}

}  // namespace

std::string Networks::bridge_name(const std::string& network) const {
  if (network == config_.default_network) return config_.default_bridge;
  return (config_.bridge_prefix + short_hash(network)).substr(0, 15);
}

std::string Networks::veth_name(const std::string& instance) const {
  return (config_.veth_prefix + short_hash(config_.state_dir + "/" + instance)).substr(0, 15);
}

Result<std::vector<NetworkSpec>> Networks::all() {
  std::vector<NetworkSpec> out;
  for (const auto& row : TRY(store_.list_networks())) out.push_back(TRY_CTX(network_from_json(row.spec), "network {}", row.name));
  return out;
}

Result<NetworkSpec> Networks::get(const std::string& name) {
  auto row = TRY(store_.get_network(name));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no network named {}", name)).with_hint("see `vessel network ls`"));
  return TRY_CTX(network_from_json(row->spec), "network {}", name);
}

Networks::~Networks() { dns_.reset(); }  // its thread looks names up here: stop it first

void Networks::refresh_dns() {
  if (!dns_) return;
  std::vector<DnsListener> listeners;
  if (auto nets = all())
    for (const auto& n : *nets) listeners.push_back({n.name, n.gateway});
  dns_->set_listeners(listeners);
}

std::optional<Ipv4> Networks::lookup(const std::string& network, const std::string& name) {
  std::lock_guard lock(mutex_);
  for (const auto& [instance, spec] : active_) {
    if (spec.network != network || instance.size() != name.size()) continue;
    bool same = std::equal(instance.begin(), instance.end(), name.begin(),
                           [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
    if (!same) continue;
    auto row = store_.address_of(instance);
    if (row && *row)
      if (auto a = parse_ipv4((*row)->address)) return *a;
  }
  return std::nullopt;
}

void Networks::init() {
  ::mkdir((config_.state_dir + "/netns").c_str(), 0700);
  if (config_.dns_port != 0) {
    std::optional<DnsUpstream> upstream;
    if (auto text = read_file("/etc/resolv.conf")) upstream = parse_resolv_conf_upstream(*text);
    dns_ = std::make_unique<DnsServer>([this](const std::string& n, const std::string& name) { return lookup(n, name); },
                                       upstream, config_.dns_port);
  }
  init_default();
  refresh_dns();
}

void Networks::init_default() {
  if (config_.default_network.empty()) return;
  auto existing = store_.get_network(config_.default_network);
  if (existing && *existing) return;
  auto made = [&]() -> Result<void> {
    auto subnet = TRY(parse_cidr(config_.default_subnet));  // not inside the braces (a leak on failure)
    NetworkSpec spec{config_.default_network, subnet, {}, false, config_.default_bridge};
    spec.gateway = Ipv4{spec.subnet.first().value + 1};
    std::vector<std::string> own;
    auto others = TRY(all());
    for (const auto& o : others) own.push_back(o.bridge);
    own.push_back(spec.bridge);
    TRY(validate_network(spec, others, TRY(host_routes()), own));
    TRY(store_.insert_network({spec.name, to_json(spec).dump(), 0}));
    return {};
  }();
  if (!made) {
    default_problem_ = made.error().to_string();
    log::error("the default network {} ({}) was not made: {}; start vesseld with --default-subnet CIDR, or run "
               "instances with --network", config_.default_network, config_.default_subnet, default_problem_);
  }
}

Result<json::Json> Networks::create(const NetworkRequest& request) {
  std::unique_lock lock(mutex_);
  auto others = TRY(all());
  auto routes = TRY(host_routes());
  std::vector<std::string> own{config_.default_bridge};
  for (const auto& o : others) own.push_back(o.bridge);
  NetworkSpec spec{request.name, {}, {}, request.internal, bridge_name(request.name)};
  if (request.subnet) {
    spec.subnet = *request.subnet;
  } else {
    std::vector<Cidr> used;
    for (const auto& o : others) used.push_back(o.subnet);
    for (const auto& r : routes)
      if (r.dest.prefix > 0 && std::find(own.begin(), own.end(), r.ifname) == own.end()) used.push_back(r.dest);
    auto picked = pick_subnet(used);
    if (!picked) return Unexpected(Error(ENOSPC, "no free /24 left in 10.89.0.0-10.255.255.0").with_hint("pass --subnet"));
    spec.subnet = *picked;
  }
  spec.gateway = request.gateway.value_or(Ipv4{spec.subnet.first().value + 1});
  TRY(validate_network(spec, others, routes, own));
  TRY(store_.insert_network({spec.name, to_json(spec).dump(), 0}));
  if (auto bridge = ensure_bridge(spec); !bridge) {
    (void)store_.delete_network(spec.name);
    return Unexpected(std::move(bridge).error());
  }
  if (auto rules = rebuild_rules(); !rules) log::error("network {}: {}", spec.name, rules.error().to_string());
  lock.unlock();
  refresh_dns();
  log::info("network {} created: {} gateway {} on bridge {}", spec.name, to_string(spec.subnet), to_string(spec.gateway), spec.bridge);
  json::Json j = to_json(spec);
  j["members"] = json::Json::array();
  return j;
}

Result<json::Json> Networks::list() {
  json::Json out = json::Json::array();
  auto addresses = TRY(store_.list_addresses());
  for (const auto& row : TRY(store_.list_networks())) {
    auto spec = network_from_json(row.spec);
    if (!spec) continue;
    json::Json j = to_json(*spec);
    j["created_at"] = row.created_at;
    j["instances"] = std::count_if(addresses.begin(), addresses.end(), [&](const AddressRow& a) { return a.network == row.name; });
    j["default"] = row.name == config_.default_network;
    out.push_back(j);
  }
  return out;
}

Result<json::Json> Networks::inspect(const std::string& name) {
  TRY(validate_name(name));
  auto row = TRY(store_.get_network(name));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no network named {}", name)).with_hint("see `vessel network ls`"));
  json::Json j = to_json(TRY(network_from_json(row->spec)));
  j["created_at"] = row->created_at;
  j["default"] = name == config_.default_network;
  json::Json members = json::Json::array();
  for (const auto& a : TRY(store_.list_addresses(name))) members.push_back({{"instance", a.instance}, {"address", a.address}});
  j["members"] = members;
  return j;
}

Result<void> Networks::remove(const std::string& name) {
  TRY(validate_name(name));
  std::unique_lock lock(mutex_);
  if (name == config_.default_network)
    return Unexpected(Error(EBUSY, fmt::format("{} is vesseld's default network", name))
                          .with_hint("instances without --network join it; it cannot be removed"));
  auto spec = TRY(get(name));
  TRY(store_.delete_network(name));
  auto rt = Rtnetlink::open();
  if (rt) {
    auto gone = rt->delete_link(spec.bridge);
    if (!gone && gone.error().errnum() != ENODEV) log::warn("network {}: {}", name, gone.error().to_string());
  }
  if (auto rules = rebuild_rules(); !rules) log::error("network {}: {}", name, rules.error().to_string());
  lock.unlock();
  refresh_dns();
  log::info("network {} removed", name);
  return {};
}

Result<std::string> Networks::resolve(const std::string& requested) {
  if (requested == kNetworkNone || requested == kNetworkHost) return requested;
  if (requested.empty()) {
    if (config_.default_network.empty()) return std::string(kNetworkNone);
    if (!default_problem_.empty())
      return Unexpected(Error(ENODEV, fmt::format("the default network {} is not available: {}", config_.default_network, default_problem_))
                            .with_hint("pass --network NAME or --network none, or start vesseld with --default-subnet CIDR"));
    return config_.default_network;
  }
  TRY(get(requested));
  return requested;
}

Result<void> Networks::allocate(const InstanceSpec& spec) {
  if (!is_bridge_network(spec.network)) return {};
  auto net = TRY(get(spec.network));
  auto pick = [&](const std::vector<std::string>& taken) -> std::optional<std::string> {
    std::vector<Ipv4> used;
    for (const auto& t : taken)
      if (auto a = parse_ipv4(t)) used.push_back(*a);
    auto a = pick_address(net.subnet, net.gateway, used);
    return a ? std::optional<std::string>(to_string(*a)) : std::nullopt;
  };
  auto address = TRY(store_.allocate_address(spec.name, net.name, pick));
  log::info("{}: address {} on network {}", spec.name, address, net.name);
  return {};
}

std::string Networks::address_of(const std::string& instance) {
  auto row = store_.address_of(instance);
  return row && *row ? (*row)->address : std::string();
}

Result<void> Networks::ensure_bridge(const NetworkSpec& net) {
  auto rt = TRY(Rtnetlink::open());
  TRY_CTX(rt.add_bridge(net.bridge), "bridge {}", net.bridge);
  int index = TRY(rt.link_index(net.bridge));
  TRY_CTX(rt.add_address(index, net.gateway, net.subnet.prefix), "bridge {}", net.bridge);
  TRY_CTX(rt.set_up(index), "bridge {}", net.bridge);
  // Routing between the bridge and the rest of the host (NAT out, DNAT in), and DNAT of
  // connections to 127.0.0.1 onto this bridge (docs/daemon/networks.md, publishing).
  write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
  write_sysctl("/proc/sys/net/ipv4/conf/" + net.bridge + "/route_localnet", "1");
  return {};
}

Result<void> Networks::plumb(const InstanceSpec& spec, const NetworkSpec& net, Ipv4 address) {
  std::string path = netns_path(spec.name);
  std::string veth = veth_name(spec.name);
  TRY(create_netns(path));
  auto host = TRY(Rtnetlink::open());
  (void)host.delete_link(veth);  // left by a crash
  int bridge = TRY(host.link_index(net.bridge));
  auto ns = TRY(Fd::open(path, O_RDONLY));
  TRY(host.add_veth(veth, bridge, "eth0", ns.get()));
  TRY(host.set_up(TRY(host.link_index(veth))));
  auto inside = TRY(rtnetlink_in(path));
  TRY_CTX(inside.set_up(TRY(inside.link_index("lo"))), "lo");
  int eth0 = TRY(inside.link_index("eth0"));
  TRY_CTX(inside.add_address(eth0, address, net.subnet.prefix), "eth0");
  TRY_CTX(inside.set_up(eth0), "eth0");
  TRY_CTX(inside.add_default_route(eth0, net.gateway), "eth0");
  // As Docker does: any port may be bound inside. The namespace belongs to the host's user
  // namespace, so without this a --userns=auto container's root could not listen on port 80.
  TRY(netns_sysctl(path, "net/ipv4/ip_unprivileged_port_start", "0"));
  return {};
}

Result<void> Networks::check_ports(const InstanceSpec& spec) {
  for (const auto& p : spec.ports) {
    for (const auto& [name, other] : active_) {
      if (name == spec.name) continue;
      for (const auto& q : other.ports)
        if (ports_clash(p, q))
          return Unexpected(Error(EBUSY, fmt::format("host port {}/{} is already published by {}", p.host_port, p.protocol, name))
                                .with_hint("publish another host port, or stop that instance"));
    }
    TRY(check_host_port_free(p));
  }
  return {};
}

Result<Attachment> Networks::attach(const InstanceSpec& spec) {
  if (spec.network == kNetworkHost) return Attachment{"host"};
  if (!is_bridge_network(spec.network)) return Attachment{""};
  std::lock_guard lock(mutex_);
  auto net = TRY(get(spec.network));
  auto row = TRY(store_.address_of(spec.name));
  if (!row) return fail(ENOENT, "{} holds no address on network {}", spec.name, spec.network);
  auto address = TRY(parse_ipv4(row->address));
  TRY(check_ports(spec));
  bool vm = spec.type == InstanceType::Vm;
  auto made = [&]() -> Result<void> {
    TRY_CTX(ensure_bridge(net), "network {}", net.name);
    if (!vm) TRY_CTX(plumb(spec, net, address), "attach {} to network {}", spec.name, net.name);
    active_[spec.name] = spec;
    return rebuild_rules();
  }();
  if (!made) {
    active_.erase(spec.name);
    if (auto rt = Rtnetlink::open()) (void)rt->delete_link(veth_name(spec.name));
    remove_netns(netns_path(spec.name));
    (void)rebuild_rules();
    return Unexpected(std::move(made).error());
  }
  if (vm) return Attachment{"", "", "", vm_nic(veth_name(spec.name), net.bridge, address, net.gateway, net.subnet.prefix)};
  return Attachment{netns_path(spec.name), render_resolv_conf(net.gateway), render_hosts(spec.name, address), std::nullopt};
}

void Networks::detach(const InstanceSpec& spec) {
  if (!is_bridge_network(spec.network)) return;
  std::lock_guard lock(mutex_);
  if (auto rt = Rtnetlink::open()) {
    auto gone = rt->delete_link(veth_name(spec.name));
    if (!gone && gone.error().errnum() != ENODEV) log::warn("{}: {}", spec.name, gone.error().to_string());
  }
  remove_netns(netns_path(spec.name));
  bool was_active = active_.erase(spec.name) > 0;
  if (was_active)
    if (auto rules = rebuild_rules(); !rules) log::error("{}: {}", spec.name, rules.error().to_string());
}

void Networks::adopt(const InstanceSpec& spec) {
  if (!is_bridge_network(spec.network)) return;
  std::lock_guard lock(mutex_);
  active_[spec.name] = spec;
}

void Networks::finish_reconcile() {
  std::lock_guard lock(mutex_);
  auto rows = store_.list_addresses();
  if (rows) {
    auto rt = Rtnetlink::open();
    for (const auto& a : *rows) {
      if (active_.count(a.instance)) continue;
      if (rt) (void)rt->delete_link(veth_name(a.instance));  // ENODEV: nothing stale
      remove_netns(netns_path(a.instance));
    }
  }
  if (auto rules = rebuild_rules(); !rules) log::error("rebuild vessel's nftables table: {}", rules.error().to_string());
}

Result<void> Networks::rebuild_rules() {
  // Only networks whose bridge exists (made at create, or at an instance's first start): a
  // vesseld that never used a network leaves the host's nftables alone.
  std::vector<RulesetNetwork> nets;
  for (const auto& n : TRY(all()))
    if (::access(("/sys/class/net/" + n.bridge).c_str(), F_OK) == 0) nets.push_back({n.bridge, n.subnet, n.internal});
  if (nets.empty()) {
    // Only a table this vesseld wrote: one without networks never touches a table of that name.
    if (wrote_table_) (void)nft_apply(render_delete(config_.nft_table));
    wrote_table_ = false;
    return {};
  }
  std::vector<RulesetPort> ports;
  for (const auto& [name, spec] : active_) {
    if (spec.ports.empty()) continue;
    auto row = TRY(store_.address_of(name));
    if (!row) continue;
    auto address = TRY(parse_ipv4(row->address));
    for (const auto& p : spec.ports) ports.push_back({p, address});
  }
  TRY(nft_apply(render_ruleset(config_.nft_table, nets, ports)));
  wrote_table_ = true;
  return {};
}

}  // namespace vessel::daemon
