// vesseld's embedded DNS server (docs/daemon/networks.md, names): one UDP socket on each bridge
// network's gateway address, port 53, served by one thread. An A query for the name of a running
// instance on the network it was asked on is answered from vesseld's state; other names are
// forwarded to the host's first nameserver (/etc/resolv.conf), or refused when it has none.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "daemon/network/cidr.h"
#include "daemon/network/dns_message.h"

namespace vessel::daemon {

struct DnsListener {
  std::string network;
  Ipv4 address;  // the gateway
};

struct DnsUpstream {
  Ipv4 address;
  uint16_t port = 53;
};

// What a parsed query gets, given whether the name is one of the network's instances:
// its A record; an empty NOERROR for another type of a known name; none (forward or refuse) else.
std::optional<std::vector<uint8_t>> dns_local_answer(const DnsQuery& q, std::optional<Ipv4> instance);

// The first IPv4 nameserver of a resolv.conf's text, if any.
std::optional<DnsUpstream> parse_resolv_conf_upstream(std::string_view text);

class DnsServer {
 public:
  // lookup(network, name): the address of the running instance `name` on `network`.
  using Lookup = std::function<std::optional<Ipv4>(const std::string& network, const std::string& name)>;
  DnsServer(Lookup lookup, std::optional<DnsUpstream> upstream, uint16_t port = 53);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Listens on exactly these (sockets of networks gone are closed); a bind that fails is logged.
  void set_listeners(const std::vector<DnsListener>& listeners);

 private:
  struct Socket {
    DnsListener listener;
    Fd fd;
  };
  void loop();
  void serve(const Socket& s);
  // On its own thread: owns copies of all it uses, so it may outlive the server.
  static void forward(DnsUpstream upstream, std::shared_ptr<std::atomic<int>> in_flight, int listen_fd,
                      std::vector<uint8_t> query, std::vector<uint8_t> client_addr);

  Lookup lookup_;
  std::optional<DnsUpstream> upstream_;
  uint16_t port_;
  Fd wake_;  // eventfd: the listener set changed, or stop
  std::mutex mutex_;
  std::vector<std::shared_ptr<Socket>> sockets_;  // shared: the loop serves a snapshot unlocked
  std::atomic<bool> stop_{false};
  std::shared_ptr<std::atomic<int>> forwards_ = std::make_shared<std::atomic<int>>(0);  // in flight (bounded)
  std::thread thread_;
};

}  // namespace vessel::daemon
