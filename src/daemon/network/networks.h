// vesseld's networks (docs/daemon/networks.md): the objects of /v1/networks kept in the store,
// and what instances on them get when they start — a netns with a veth on the network's bridge,
// an address from the network's pool — plus vessel's nftables table, rebuilt from the store and
// the running instances after every change (and when vesseld starts).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "daemon/network/dns_server.h"
#include "daemon/network/network_spec.h"
#include "daemon/network/vm_nic.h"
#include "daemon/spec/spec.h"
#include "daemon/store/store.h"

namespace vessel::daemon {

struct NetworkConfig {
  std::string state_dir;                    // netns files live in <state_dir>/netns
  std::string default_network = "vessel";   // empty: none (instances get --network none)
  std::string default_subnet = "10.88.0.0/16";
  std::string default_bridge = "vessel0";
  std::string bridge_prefix = "vbr-";       // user networks' bridges: <prefix><hash of the name>
  std::string veth_prefix = "vx";           // host ends: <prefix><hash of state dir and instance>
  std::string nft_table = "vessel";         // table ip <nft_table>
  uint16_t dns_port = 53;                   // the DNS server on each gateway; 0: none
};

// Where an instance's container joins: its netns path, "" for a private one (loopback only), or
// "host" (the host's).
struct Attachment {
  std::string netns;
  // Files for the container's /etc (bridge networks): resolv.conf naming vesseld's DNS server
  // and hosts; "" for none.
  std::string resolv_conf, hosts;
  std::optional<VmNic> vm;  // VMs: their tap, MAC and the kernel's ip= (the backend makes the tap)
};

class Networks {
 public:
  Networks(NetworkConfig config, Store& store) : config_(std::move(config)), store_(store) {}
  ~Networks();

  // Makes the default network (its row) if missing; a subnet that collides with a host route is
  // logged with advice, and instances asking for it are refused with the same message.
  void init();

  Result<json::Json> create(const NetworkRequest& request);
  Result<json::Json> list();
  Result<json::Json> inspect(const std::string& name);
  Result<void> remove(const std::string& name);

  // The network an instance's spec names, checked: "" becomes the default network.
  Result<std::string> resolve(const std::string& requested);
  // At create, after the instance's row exists: its address on a bridge network.
  Result<void> allocate(const InstanceSpec& spec);
  // The instance's address ("" when it holds none).
  std::string address_of(const std::string& instance);

  // At start: checks the published ports, makes bridge, netns, veth, address, route and rules.
  Result<Attachment> attach(const InstanceSpec& spec);
  // At stop (idempotent): the veth and the netns go, the rules follow.
  void detach(const InstanceSpec& spec);
  // After a vesseld restart: a running instance keeps what it has.
  void adopt(const InstanceSpec& spec);
  // After adopting: stale veths and netns files of instances not running are removed and the
  // nftables table is rebuilt.
  void finish_reconcile();

  std::string netns_path(const std::string& instance) const { return config_.state_dir + "/netns/" + instance; }
  std::string veth_name(const std::string& instance) const;

 private:
  Result<std::vector<NetworkSpec>> all();
  void init_default();
  Result<NetworkSpec> get(const std::string& name);
  std::string bridge_name(const std::string& network) const;
  Result<void> ensure_bridge(const NetworkSpec& net);
  Result<void> plumb(const InstanceSpec& spec, const NetworkSpec& net, Ipv4 address);
  Result<void> check_ports(const InstanceSpec& spec);
  // The DNS server listens on the gateway of every network (call without mutex_ held: its
  // thread takes mutex_ to look names up).
  void refresh_dns();
  std::optional<Ipv4> lookup(const std::string& network, const std::string& name);
  // Replaces the nftables table with what the store and `active_` say now.
  Result<void> rebuild_rules();

  NetworkConfig config_;
  Store& store_;
  std::mutex mutex_;                 // the active set and the rules' rebuilds
  std::map<std::string, InstanceSpec> active_;  // instances attached to a bridge network
  std::string default_problem_;      // why the default network could not be made
  bool wrote_table_ = false;         // the nftables table is ours to delete
  std::unique_ptr<DnsServer> dns_;
};

}  // namespace vessel::daemon
