#include "daemon/network/dns_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "base/log.h"

namespace vessel::daemon {

namespace {

constexpr int kMaxForwards = 32;

sockaddr_in inet(Ipv4 a, uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  s.sin_addr.s_addr = htonl(a.value);
  return s;
}

Result<Fd> listen_udp(Ipv4 address, uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fail_errno("socket");
  int one = 1;
  // The gateway address may not be on its bridge yet (the bridge is made at the first start).
  ::setsockopt(fd.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = inet(address, port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return fail_errno("bind {}:{}", to_string(address), port);
  return fd;
}

}  // namespace

std::optional<std::vector<uint8_t>> dns_local_answer(const DnsQuery& q, std::optional<Ipv4> instance) {
  if (!instance) return std::nullopt;
  if (q.qclass != kDnsClassIn) return dns_answer(q, DnsRcode::Refused);
  if (q.qtype == kDnsTypeA) return dns_answer(q, DnsRcode::NoError, instance);
  return dns_answer(q, DnsRcode::NoError);  // the name exists, without records of that type
}

std::optional<DnsUpstream> parse_resolv_conf_upstream(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string key, value;
    if (!(f >> key >> value) || key != "nameserver") continue;
    if (auto a = parse_ipv4(value)) return DnsUpstream{*a, 53};
  }
  return std::nullopt;
}

DnsServer::DnsServer(Lookup lookup, std::optional<DnsUpstream> upstream, uint16_t port)
    : lookup_(std::move(lookup)), upstream_(upstream), port_(port), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { loop(); });
}

DnsServer::~DnsServer() {
  stop_ = true;
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  thread_.join();  // forwarding threads own copies of what they use: they may finish later
}

void DnsServer::set_listeners(const std::vector<DnsListener>& listeners) {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Socket>> next;
  for (const auto& l : listeners) {
    auto same = std::find_if(sockets_.begin(), sockets_.end(), [&](const std::shared_ptr<Socket>& s) {
      return s->listener.network == l.network && s->listener.address == l.address;
    });
    if (same != sockets_.end()) {
      next.push_back(*same);
      continue;
    }
    auto fd = listen_udp(l.address, port_);
    if (!fd) {
      log::warn("dns for network {}: {}; its instances cannot resolve each other's names", l.network, fd.error().to_string());
      continue;
    }
    next.push_back(std::make_shared<Socket>(Socket{l, std::move(*fd)}));
  }
  sockets_ = std::move(next);  // the others close when the loop lets go of them
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void DnsServer::loop() {
  std::vector<pollfd> fds;
  std::vector<std::shared_ptr<Socket>> snapshot;
  while (!stop_) {
    {
      std::lock_guard lock(mutex_);
      snapshot = sockets_;
    }
    fds.assign(1, pollfd{wake_.get(), POLLIN, 0});
    for (auto& s : snapshot) fds.push_back({s->fd.get(), POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0 && errno != EINTR) {
      log::error("dns: poll: {}", std::strerror(errno));
      return;
    }
    if (n <= 0) continue;
    if (fds[0].revents) {
      uint64_t v;
      (void)!::read(wake_.get(), &v, sizeof v);
      continue;  // the socket list may have changed: take a new snapshot
    }
    for (size_t i = 1; i < fds.size(); ++i)
      if (fds[i].revents & POLLIN) serve(*snapshot[i - 1]);
  }
}

void DnsServer::serve(const Socket& s) {
  // This thread is an edge: nothing may leave it by exception.
  try {
    uint8_t buf[kDnsMaxMessage + 1];
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t got = ::recvfrom(s.fd.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (got <= 0) return;
    auto reply = [&](const std::vector<uint8_t>& bytes) {
      (void)::sendto(s.fd.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    };
    uint16_t id = 0;
    auto q = parse_dns_query(std::span<const uint8_t>(buf, static_cast<size_t>(got)), &id);
    if (!q) {
      if (static_cast<size_t>(got) >= 12)
        reply(dns_error(id, q.error().errnum() == ENOTSUP ? DnsRcode::NotImp : DnsRcode::FormErr));
      return;
    }
    if (auto local = dns_local_answer(*q, lookup_(s.listener.network, q->name))) return reply(*local);
    if (!upstream_ || *forwards_ >= kMaxForwards) return reply(dns_answer(*q, upstream_ ? DnsRcode::ServFail : DnsRcode::Refused));
    std::vector<uint8_t> client(reinterpret_cast<uint8_t*>(&from), reinterpret_cast<uint8_t*>(&from) + from_len);
    int fd = ::fcntl(s.fd.get(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return reply(dns_answer(*q, DnsRcode::ServFail));
    ++*forwards_;
    std::thread([upstream = *upstream_, in_flight = forwards_, fd, query = std::vector<uint8_t>(buf, buf + got), client]() mutable {
      forward(upstream, std::move(in_flight), fd, std::move(query), std::move(client));
    }).detach();
  } catch (const std::exception& e) {
    log::error("dns: {}", e.what());
  }
}

void DnsServer::forward(DnsUpstream upstream, std::shared_ptr<std::atomic<int>> in_flight, int listen_fd,
                        std::vector<uint8_t> query, std::vector<uint8_t> client) {
  Fd listen(listen_fd);
  try {
    Fd up(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    auto to = inet(upstream.address, upstream.port);
    if (up && ::connect(up.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
        ::send(up.get(), query.data(), query.size(), 0) == static_cast<ssize_t>(query.size())) {
      pollfd p{up.get(), POLLIN, 0};
      uint8_t buf[4096];
      if (::poll(&p, 1, 2000) == 1) {
        ssize_t n = ::recv(up.get(), buf, sizeof buf, 0);
        // Only the answer to this query goes back (same id), relayed as it is.
        if (n >= 12 && buf[0] == query[0] && buf[1] == query[1])
          (void)::sendto(listen.get(), buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(client.data()),
                         static_cast<socklen_t>(client.size()));
      }
    }
  } catch (const std::exception& e) {
    log::error("dns forward: {}", e.what());
  }
  --*in_flight;
}

}  // namespace vessel::daemon
