#include "daemon/network/rtnetlink.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace vessel::daemon {

namespace {

// One request message being built: a header, a fixed part and nested attributes.
class Message {
 public:
  Message(uint16_t type, uint16_t flags) {
    auto* h = header();
    h->nlmsg_len = NLMSG_HDRLEN;
    h->nlmsg_type = type;
    h->nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
  }
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_); }
  template <typename T>
  T* fixed() {  // the ifinfomsg / ifaddrmsg / rtmsg right after the header
    auto* t = reinterpret_cast<T*>(buf_ + NLMSG_HDRLEN);
    header()->nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(T));
    return t;
  }
  void put(uint16_t type, const void* data, size_t len) {
    auto* h = header();
    auto* a = reinterpret_cast<rtattr*>(buf_ + NLMSG_ALIGN(h->nlmsg_len));
    a->rta_type = type;
    a->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    std::memcpy(RTA_DATA(a), data, len);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
  }
  void put_string(uint16_t type, const std::string& s) { put(type, s.c_str(), s.size() + 1); }
  void put_u32(uint16_t type, uint32_t v) { put(type, &v, sizeof v); }
  // A nested attribute: begin() returns its offset, end() fixes its length.
  size_t begin(uint16_t type) {
    size_t at = NLMSG_ALIGN(header()->nlmsg_len);
    put(type, nullptr, 0);
    return at;
  }
  void end(size_t at) { reinterpret_cast<rtattr*>(buf_ + at)->rta_len = static_cast<uint16_t>(header()->nlmsg_len - at); }
  // Raw bytes inside a nested attribute (the veth peer's ifinfomsg).
  void put_raw(const void* data, size_t len) {
    auto* h = header();
    std::memcpy(buf_ + NLMSG_ALIGN(h->nlmsg_len), data, len);
    h->nlmsg_len = static_cast<uint32_t>(NLMSG_ALIGN(h->nlmsg_len) + NLMSG_ALIGN(len));
  }
  size_t size() { return header()->nlmsg_len; }

 private:
  alignas(nlmsghdr) char buf_[1024] = {};
};

}  // namespace

Result<Rtnetlink> Rtnetlink::open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return fail_errno("socket(NETLINK_ROUTE)");
  Fd owned(fd);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) return fail_errno("bind netlink socket");
  timeval tv{5, 0};  // the kernel answers at once; never hang vesseld on it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return Rtnetlink(std::move(owned));
}

Result<void> Rtnetlink::request(void* msg, size_t len, const char* what) {
  auto* h = static_cast<nlmsghdr*>(msg);
  h->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), msg, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return fail_errno("netlink {}", what);
  alignas(nlmsghdr) char buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("netlink {}: read the answer", what);
    for (auto* r = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(r, static_cast<unsigned>(n)); r = NLMSG_NEXT(r, n)) {
      if (r->nlmsg_seq != h->nlmsg_seq) continue;
      if (r->nlmsg_type == NLMSG_ERROR) {
        if (r->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return fail(EPROTO, "netlink {}: short error", what);
        int err = -static_cast<nlmsgerr*>(NLMSG_DATA(r))->error;
        if (err == 0) return {};
        errno = err;
        return fail_errno("netlink {}", what);
      }
      if (r->nlmsg_type == NLMSG_DONE) return {};
    }
  }
}

Result<int> Rtnetlink::link_index(const std::string& name) {
  // if_nametoindex asks the calling thread's netns, not this socket's: ask the socket instead.
  Message m(RTM_GETLINK, 0);
  auto* ifi = m.fixed<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  m.put_string(IFLA_IFNAME, name);
  auto* h = m.header();
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), h, m.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return fail_errno("netlink get link {}", name);
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("netlink get link {}", name);
    for (auto* r = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(r, static_cast<unsigned>(n)); r = NLMSG_NEXT(r, n)) {
      if (r->nlmsg_seq != h->nlmsg_seq) continue;
      if (r->nlmsg_type == NLMSG_ERROR) {
        int err = -static_cast<nlmsgerr*>(NLMSG_DATA(r))->error;
        return fail(err ? err : EPROTO, "no link named {}", name);
      }
      if (r->nlmsg_type == RTM_NEWLINK) return static_cast<ifinfomsg*>(NLMSG_DATA(r))->ifi_index;
    }
  }
}

Result<void> Rtnetlink::add_bridge(const std::string& name) {
  Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.fixed<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.put_string(IFLA_IFNAME, name);
  auto info = m.begin(IFLA_LINKINFO);
  m.put_string(IFLA_INFO_KIND, "bridge");
  m.end(info);
  auto r = request(m.header(), m.size(), "create bridge");
  if (!r && r.error().errnum() == EEXIST) return {};
  return r;
}

Result<void> Rtnetlink::add_veth(const std::string& host, int master_index, const std::string& peer, int netns_fd) {
  Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.fixed<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.put_string(IFLA_IFNAME, host);
  m.put_u32(IFLA_MASTER, static_cast<uint32_t>(master_index));
  auto info = m.begin(IFLA_LINKINFO);
  m.put_string(IFLA_INFO_KIND, "veth");
  auto data = m.begin(IFLA_INFO_DATA);
  auto peer_at = m.begin(VETH_INFO_PEER);
  ifinfomsg peer_ifi{};
  peer_ifi.ifi_family = AF_UNSPEC;
  m.put_raw(&peer_ifi, sizeof peer_ifi);
  m.put_string(IFLA_IFNAME, peer);
  m.put_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
  m.end(peer_at);
  m.end(data);
  m.end(info);
  TRY_CTX(request(m.header(), m.size(), "create veth"), "veth {} <-> {}", host, peer);
  return {};
}

Result<void> Rtnetlink::set_up(int index) {
  Message m(RTM_NEWLINK, 0);
  auto* ifi = m.fixed<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return request(m.header(), m.size(), "set link up");
}

Result<void> Rtnetlink::set_master(int index, int master_index) {
  Message m(RTM_NEWLINK, 0);
  auto* ifi = m.fixed<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  m.put_u32(IFLA_MASTER, static_cast<uint32_t>(master_index));
  return request(m.header(), m.size(), "set master");
}

Result<void> Rtnetlink::delete_link(const std::string& name) {
  Message m(RTM_DELLINK, 0);
  m.fixed<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.put_string(IFLA_IFNAME, name);
  return request(m.header(), m.size(), "delete link");
}

Result<void> Rtnetlink::add_address(int index, Ipv4 address, unsigned prefix) {
  Message m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = m.fixed<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa->ifa_index = static_cast<unsigned>(index);
  uint32_t be = htonl(address.value);
  m.put(IFA_LOCAL, &be, 4);
  m.put(IFA_ADDRESS, &be, 4);
  uint32_t host_bits = ~Cidr{{}, prefix}.mask();
  uint32_t broadcast = htonl(address.value | host_bits);
  m.put(IFA_BROADCAST, &broadcast, 4);
  auto r = request(m.header(), m.size(), "add address");
  if (!r && r.error().errnum() == EEXIST) return {};
  return r;
}

Result<void> Rtnetlink::add_default_route(int index, Ipv4 gateway) {
  Message m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rt = m.fixed<rtmsg>();
  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  uint32_t be = htonl(gateway.value);
  m.put(RTA_GATEWAY, &be, 4);
  m.put_u32(RTA_OIF, static_cast<uint32_t>(index));
  auto r = request(m.header(), m.size(), "add default route");
  if (!r && r.error().errnum() == EEXIST) return {};
  return r;
}

}  // namespace vessel::daemon
