#include "vmm/devices/virtio/vsock/vsock_muxer.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "base/log.h"

namespace vessel::vmm::virtio::vsock {
namespace {

constexpr uint64_t kListenerToken = 0;
constexpr size_t kAcceptsPerPoll = 16;  // bounds one poll's work
constexpr size_t kEventsPerPoll = 64;

// Connects a non-blocking stream socket to `path`: the caller's connect(2) errno on failure
// (a full backlog, EAGAIN, is a refusal like any other).
Result<Fd> connect_nonblocking(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return fail(ENAMETOOLONG, "{}: path too long", path);
  std::memcpy(addr.sun_path, path.data(), path.size());
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EINPROGRESS)
    return fail_errno("connect {}", path);
  return fd;
}

}  // namespace

std::optional<uint32_t> parse_connect_line(std::string_view line) {
  constexpr std::string_view kPrefix = "CONNECT ";
  if (line.size() > kMaxConnectLine || !line.starts_with(kPrefix) || !line.ends_with('\n')) return std::nullopt;
  std::string_view digits = line.substr(kPrefix.size(), line.size() - kPrefix.size() - 1);
  // Canonical decimal only (no sign, no leading zero): one spelling per port.
  if (digits.empty() || digits.size() > 10 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  uint64_t port = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return std::nullopt;
    port = port * 10 + uint64_t(ch - '0');
  }
  if (port > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(port);
}

uint32_t Muxer::Conn::credit() const {
  uint32_t in_flight = tx_cnt - peer_fwd_cnt;  // wraps like the counters do
  return in_flight >= peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
}

Result<std::unique_ptr<Muxer>> Muxer::create(MuxerConfig config, Fd listener) {
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return fail_errno("epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerToken;
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, listener.get(), &ev) != 0) return fail_errno("epoll_ctl listener");
  return std::unique_ptr<Muxer>(new Muxer(std::move(config), std::move(listener), std::move(ep)));
}

Muxer::Muxer(MuxerConfig config, Fd listener, Fd epoll)
    : config_(std::move(config)), listener_(std::move(listener)), epoll_(std::move(epoll)) {}

Muxer::~Muxer() = default;

void Muxer::reset() {
  open_ = 0;  // first: a host that sees its stream closed must already read 0 in the metrics
  conns_.clear();  // closing an fd takes it out of the epoll set
  by_key_.clear();
  handshakes_.clear();
  control_.clear();
}

Muxer::Conn* Muxer::find(uint32_t local, uint32_t peer) {
  auto it = by_key_.find(key(local, peer));
  return it == by_key_.end() ? nullptr : &conns_.at(it->second);
}

// ---- host side ----

void Muxer::poll_host() {
  epoll_event events[kEventsPerPoll];
  int n = ::epoll_wait(epoll_.get(), events, kEventsPerPoll, 0);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kListenerToken)
      accept_clients();
    else
      on_event(events[i].data.u64, events[i].events);
  }
}

void Muxer::accept_clients() {
  for (size_t i = 0; i < kAcceptsPerPoll; ++i) {
    Fd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;  // EAGAIN, or a client that went away
    if (conns_.size() + handshakes_.size() >= config_.max_connections) {
      refused_++;  // bounded: the client sees its stream closed
      continue;
    }
    uint64_t id = next_id_++;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) continue;
    handshakes_.emplace(id, Handshake{std::move(fd), {}});
  }
}

// Reads the CONNECT line a byte at a time, so nothing the client sends after it is consumed
// before the guest accepted the stream.
void Muxer::serve_handshake(uint64_t id) {
  auto& hs = handshakes_.at(id);
  for (;;) {
    char ch = 0;
    ssize_t n = ::read(hs.sock.get(), &ch, 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      handshakes_.erase(id);
      return;
    }
    hs.line.push_back(ch);
    if (ch != '\n' && hs.line.size() < kMaxConnectLine) continue;
    auto port = parse_connect_line(hs.line);
    if (!port) {
      bad_connect_lines_++;
      handshakes_.erase(id);
      return;
    }
    Conn c;
    c.id = id;
    c.sock = std::move(hs.sock);
    c.local_port = new_local_port();
    c.peer_port = *port;
    c.state = State::LocalInit;
    c.answer_by = std::chrono::steady_clock::now() + kConnectTimeout;
    c.events = EPOLLIN;  // as the handshake registered it
    handshakes_.erase(id);
    auto& conn = conns_.emplace(id, std::move(c)).first->second;
    by_key_[key(conn.local_port, conn.peer_port)] = id;
    open_ = conns_.size();
    host_connects_++;
    update_interest(conn);
    queue(conn, Op::Request);
    return;
  }
}

uint32_t Muxer::new_local_port() {
  for (;;) {
    uint32_t p = next_local_port_++;
    if (next_local_port_ == 0) next_local_port_ = kFirstLocalPort;
    bool used = false;
    for (const auto& [id, c] : conns_) used |= c.local_port == p;
    if (!used) return p;
  }
}

void Muxer::on_event(uint64_t id, uint32_t events) {
  if (handshakes_.contains(id)) {
    serve_handshake(id);
    return;
  }
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  if (events & EPOLLERR) {
    kill(c);
    return;
  }
  if (events & EPOLLHUP) {
    // The host closed its end. What it wrote before is still to be read; the socket stays
    // readable (EOF) from now on, so it leaves the epoll set and fill_rx reads it as credit allows.
    c.hup = true;
    c.readable = true;
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.sock.get(), nullptr);
    c.events = 0;
    if (c.state != State::Established) {
      kill(c);
      return;
    }
    c.fwd_cnt += uint32_t(c.pending() - c.own_bytes);  // nobody will read it: consumed
    c.to_host.clear();
    c.to_host_off = 0;
    c.own_bytes = 0;
    return;
  }
  if (events & EPOLLIN) c.readable = true;
  if (events & EPOLLOUT) flush_to_host(c);
  else update_interest(c);
}

bool Muxer::wants_read(const Conn& c) const {
  return c.state == State::Established && !c.host_eof && !c.guest_shut_rcv && c.credit() > 0;
}

void Muxer::update_interest(Conn& c) {
  if (c.hup) return;
  uint32_t want = 0;
  if (wants_read(c) && !c.readable) want |= EPOLLIN;
  if (c.pending() > 0) want |= EPOLLOUT;
  if (want == c.events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.sock.get(), &ev) != 0)
    log::warn("virtio-vsock: epoll_ctl: {}", strerror(errno));
  c.events = want;
}

// ---- guest -> host ----

void Muxer::on_bad_packet(const PacketFault& fault) {
  count(fault.kind);
  const auto& h = fault.header;
  if (!h || h->op == uint16_t(Op::Rst)) return;  // never answer a reset with a reset
  // The stream the packet named (if any) cannot be trusted any more.
  if (Conn* c = find(h->dst_port, h->src_port)) {
    kill(*c);
    return;
  }
  queue_rst(h->dst_port, h->src_port);
}

void Muxer::on_guest_packet(const TxPacket& p) {
  const Header& h = p.header;
  Conn* c = find(h.dst_port, h.src_port);
  if (!c) {
    if (h.op == uint16_t(Op::Request)) return guest_connect(h);
    if (h.op == uint16_t(Op::Rst)) return;
    count(PacketError::UnknownConnection);
    queue_rst(h.dst_port, h.src_port);
    return;
  }
  c->peer_buf_alloc = h.buf_alloc;
  c->peer_fwd_cnt = h.fwd_cnt;
  if (c->credit() > 0) c->credit_requested = false;
  on_stream_packet(*c, p);
}

void Muxer::guest_connect(const Header& h) {
  if (conns_.size() + handshakes_.size() >= config_.max_connections) {
    refused_++;
    queue_rst(h.dst_port, h.src_port);
    return;
  }
  auto fd = connect_nonblocking(fmt::format("{}_{}", config_.uds_path, h.dst_port));
  if (!fd) {
    refused_++;
    queue_rst(h.dst_port, h.src_port);
    return;
  }
  Conn c;
  c.id = next_id_++;
  c.sock = std::move(*fd);
  c.local_port = h.dst_port;
  c.peer_port = h.src_port;
  c.state = State::PeerInit;
  c.peer_buf_alloc = h.buf_alloc;
  c.peer_fwd_cnt = h.fwd_cnt;
  auto& conn = conns_.emplace(c.id, std::move(c)).first->second;
  by_key_[key(conn.local_port, conn.peer_port)] = conn.id;
  open_ = conns_.size();
  guest_connects_++;
  epoll_event ev{};
  ev.data.u64 = conn.id;
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, conn.sock.get(), &ev);
  queue(conn, Op::Response);  // Established once it is sent
}

void Muxer::on_stream_packet(Conn& c, const TxPacket& p) {
  switch (Op(p.header.op)) {
    case Op::Request:  // a second REQUEST on an open stream
      kill(c);
      return;
    case Op::Response: {
      if (c.state != State::LocalInit) return kill(c);
      c.state = State::Established;
      std::string ok = fmt::format("OK {}\n", c.local_port);
      c.to_host.insert(c.to_host.end(), ok.begin(), ok.end());
      c.own_bytes = uint32_t(ok.size());
      flush_to_host(c);
      return;
    }
    case Op::Rst:
      // What the guest sent before its reset still goes to the host, as far as the socket takes it.
      if (!c.hup && c.pending() > 0)
        (void)::send(c.sock.get(), c.to_host.data() + c.to_host_off, c.pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
      remove(c.id);
      return;
    case Op::Shutdown:
      c.guest_shut_send |= (p.header.flags & kShutdownSend) != 0;
      c.guest_shut_rcv |= (p.header.flags & kShutdownRcv) != 0;
      maybe_finish(c);
      return;
    case Op::Rw:
      guest_data(c, p);
      return;
    case Op::CreditUpdate:
      update_interest(c);
      return;
    case Op::CreditRequest:
      queue(c, Op::CreditUpdate);
      update_interest(c);
      return;
  }
}

void Muxer::guest_data(Conn& c, const TxPacket& p) {
  if (c.state != State::Established || c.guest_shut_send) return kill(c);
  uint32_t len = p.header.len;
  if (uint64_t(c.rx_cnt - c.fwd_cnt) + len > kBufAlloc) {
    count(PacketError::CreditViolation);
    return kill(c);
  }
  c.rx_cnt += len;
  bytes_from_guest_ += len;
  if (c.hup) {  // the host is gone: the bytes are consumed and dropped
    c.fwd_cnt += len;
  } else {
    for (auto s : p.payload) c.to_host.insert(c.to_host.end(), s.begin(), s.end());
  }
  flush_to_host(c);
}

// Writes what the host socket takes; the rest waits for EPOLLOUT. Consumed bytes count in
// fwd_cnt, which the guest learns from our next packet (or a CREDIT_UPDATE once enough piled up).
void Muxer::flush_to_host(Conn& c) {
  while (c.pending() > 0 && !c.hup) {
    ssize_t n = ::send(c.sock.get(), c.to_host.data() + c.to_host_off, c.pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return kill(c);
    c.to_host_off += size_t(n);
    // The "OK" line is ours, not guest payload: it does not count as forwarded.
    uint32_t own = std::min(c.own_bytes, uint32_t(n));
    c.own_bytes -= own;
    c.fwd_cnt += uint32_t(n) - own;
  }
  if (c.pending() == 0) {
    c.to_host.clear();
    c.to_host_off = 0;
  }
  if (c.fwd_cnt - c.last_fwd_sent >= kBufAlloc / 4 && !c.update_queued) queue(c, Op::CreditUpdate);
  update_interest(c);
  maybe_finish(c);
}

// A guest that shut its sending side gets the host socket's write side shut once its bytes are
// out; a stream both sides are done with is reset (Linux waits for that RST to free its socket).
void Muxer::maybe_finish(Conn& c) {
  if (c.pending() > 0) return;
  if (c.guest_shut_send && !c.hup) (void)::shutdown(c.sock.get(), SHUT_WR);
  bool guest_done = c.guest_shut_send && c.guest_shut_rcv;
  bool both_done = c.guest_shut_send && (c.host_eof || c.guest_shut_rcv);
  if (guest_done || both_done) kill(c);
  else update_interest(c);
}

// ---- host -> guest ----

void Muxer::queue(Conn& c, Op op, uint32_t flags) {
  Header h;
  h.src_cid = kHostCid;
  h.dst_cid = config_.guest_cid;
  h.src_port = c.local_port;
  h.dst_port = c.peer_port;
  h.op = uint16_t(op);
  h.flags = flags;
  if (op == Op::CreditUpdate) c.update_queued = true;
  control_.push_back({h, c.id});
}

void Muxer::queue_rst(uint32_t local, uint32_t peer) {
  if (control_.size() >= 2 * kMaxControl) return;  // bounded even if tx keeps coming
  Header h;
  h.src_cid = kHostCid;
  h.dst_cid = config_.guest_cid;
  h.src_port = local;
  h.dst_port = peer;
  h.op = uint16_t(Op::Rst);
  control_.push_back({h, 0});
}

void Muxer::kill(Conn& c) {
  queue_rst(c.local_port, c.peer_port);
  remove(c.id);
}

void Muxer::remove(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  by_key_.erase(key(it->second.local_port, it->second.peer_port));
  open_ = conns_.size() - 1;  // before the close the host can see
  conns_.erase(it);  // closes the socket, which leaves the epoll set
}

void Muxer::expire(std::chrono::steady_clock::time_point now) {
  std::vector<uint64_t> late;
  for (const auto& [id, c] : conns_)
    if (c.state == State::LocalInit && c.answer_by <= now) late.push_back(id);
  for (uint64_t id : late) {
    connect_timeouts_++;
    kill(conns_.at(id));
  }
}

std::optional<std::chrono::steady_clock::time_point> Muxer::next_deadline() const {
  std::optional<std::chrono::steady_clock::time_point> first;
  for (const auto& [id, c] : conns_)
    if (c.state == State::LocalInit && (!first || c.answer_by < *first)) first = c.answer_by;
  return first;
}

bool Muxer::has_rx_work() const {
  if (!control_.empty()) return true;
  for (const auto& [id, c] : conns_)
    if (c.readable && wants_read(c)) return true;
  return false;
}

std::optional<uint32_t> Muxer::fill_rx(const RxBuffer& rx) {
  if (auto n = send_control(rx)) return n;
  // Round robin: start after the stream served last.
  for (int pass = 0; pass < 2; ++pass) {
    auto it = pass == 0 ? conns_.upper_bound(rr_next_) : conns_.begin();
    for (; it != conns_.end(); ) {
      Conn& c = it->second;
      ++it;
      if (!c.readable || !wants_read(c)) continue;
      uint64_t id = c.id;
      auto n = send_data(c, rx);
      if (n) {
        rr_next_ = id;
        return n;
      }
      // EOF or an error queued a control packet (and may have removed the stream).
      if (auto m = send_control(rx)) return m;
      it = conns_.upper_bound(id);
    }
  }
  return std::nullopt;
}

std::optional<uint32_t> Muxer::send_control(const RxBuffer& rx) {
  if (control_.empty()) return std::nullopt;
  Control ctl = control_.front();
  control_.pop_front();
  Header h = ctl.header;
  h.buf_alloc = kBufAlloc;
  if (auto it = conns_.find(ctl.conn); ctl.conn != 0 && it != conns_.end()) {
    Conn& c = it->second;
    h.fwd_cnt = c.fwd_cnt;
    c.last_fwd_sent = c.fwd_cnt;
    if (h.op == uint16_t(Op::CreditUpdate)) c.update_queued = false;
    if (h.op == uint16_t(Op::Response)) c.state = State::Established;
    update_interest(c);
  }
  if (h.op == uint16_t(Op::Rst)) resets_sent_++;
  auto bytes = encode(h);
  (void)rx.write_at(0, bytes);
  return uint32_t(kHeaderSize);
}

std::optional<uint32_t> Muxer::send_data(Conn& c, const RxBuffer& rx) {
  uint64_t room = std::min<uint64_t>({c.credit(), rx.len - kHeaderSize, kMaxPayload});
  if (room == 0) return std::nullopt;
  auto iov = rx.range(kHeaderSize, room);
  ssize_t n = ::readv(c.sock.get(), iov.data(), int(iov.size()));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    c.readable = false;
    update_interest(c);
    return std::nullopt;
  }
  if (n < 0) {
    kill(c);
    return std::nullopt;
  }
  if (n == 0) {  // EOF: the host sends no more (a closed socket cannot take more either)
    c.host_eof = true;
    c.readable = false;
    queue(c, Op::Shutdown, c.hup ? (kShutdownSend | kShutdownRcv) : kShutdownSend);
    maybe_finish(c);
    return std::nullopt;
  }
  c.tx_cnt += uint32_t(n);
  bytes_to_guest_ += uint64_t(n);
  Header h;
  h.src_cid = kHostCid;
  h.dst_cid = config_.guest_cid;
  h.src_port = c.local_port;
  h.dst_port = c.peer_port;
  h.len = uint32_t(n);
  h.op = uint16_t(Op::Rw);
  h.buf_alloc = kBufAlloc;
  h.fwd_cnt = c.fwd_cnt;
  c.last_fwd_sent = c.fwd_cnt;
  (void)rx.write_at(0, encode(h));
  if (c.credit() == 0 && !c.credit_requested) {  // stalled: ask the guest where it stands
    c.credit_requested = true;
    queue(c, Op::CreditRequest);
  }
  update_interest(c);
  return uint32_t(kHeaderSize + uint64_t(n));
}

void Muxer::add_metrics(json::Json& out) const {
  out["connections"] = open_.load();
  out["host_connects"] = host_connects_.load();
  out["guest_connects"] = guest_connects_.load();
  out["refused"] = refused_.load();
  out["resets_sent"] = resets_sent_.load();
  out["bad_connect_lines"] = bad_connect_lines_.load();
  out["connect_timeouts"] = connect_timeouts_.load();
  out["bytes"] = json::Json{{"to_guest", bytes_to_guest_.load()}, {"from_guest", bytes_from_guest_.load()}};
  json::Json e = json::Json::object();
  for (size_t i = 0; i < size_t(PacketError::Count); ++i) e[packet_error_name(PacketError(i))] = errors_[i].load();
  out["packet_errors"] = e;
}

}  // namespace vessel::vmm::virtio::vsock
