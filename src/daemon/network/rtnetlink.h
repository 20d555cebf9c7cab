// A small rtnetlink client: the few link, address and route operations vessel's bridge networks
// need (no `ip` subprocess, no libnl). A socket acts in the network namespace it was opened in,
// so one opened inside an instance's netns (netns.h) configures that netns.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "daemon/network/cidr.h"

namespace vessel::daemon {

class Rtnetlink {
 public:
  // A NETLINK_ROUTE socket in the calling thread's network namespace.
  static Result<Rtnetlink> open();

  // ENODEV when there is no such link.
  Result<int> link_index(const std::string& name);
  // Creates a bridge; an existing link of that name is fine (idempotent).
  Result<void> add_bridge(const std::string& name);
  // A veth pair: `host` on this side, enslaved to the bridge `master_index`, and `peer` created
  // directly in the network namespace `netns_fd`.
  Result<void> add_veth(const std::string& host, int master_index, const std::string& peer, int netns_fd);
  Result<void> set_up(int index);
  // Enslaves a link (a VM's tap) to a bridge.
  Result<void> set_master(int index, int master_index);
  // Deletes a link; ENODEV when it is already gone.
  Result<void> delete_link(const std::string& name);
  // Adds ADDRESS/prefix on a link; an address already there is fine.
  Result<void> add_address(int index, Ipv4 address, unsigned prefix);
  Result<void> add_default_route(int index, Ipv4 gateway);

 private:
  explicit Rtnetlink(Fd fd) : fd_(std::move(fd)) {}
  // Sends one request and reads its acknowledgement; the kernel's errno on failure.
  Result<void> request(void* msg, size_t len, const char* what);
  Fd fd_;
  uint32_t seq_ = 1;
};

}  // namespace vessel::daemon
