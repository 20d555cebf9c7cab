#include "daemon/api/forward.h"

#include <poll.h>
#include <sys/socket.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "base/unix_socket.h"
#include "daemon/api/router.h"
#include "http/connection_pool.h"
#include "http/public_key_pin.h"
#include "http/upgrade_client.h"

namespace vessel::daemon {

bool was_forwarded(const http::Request& request) { return request.headers.count(kForwardedHeader) > 0; }

namespace {
std::string socket_of(const std::string& a) {
  if (a.starts_with("unix://")) return a.substr(7);
  if (a.starts_with("unix:")) return a.substr(5);
  if (a.starts_with("/")) return a;
  return "";
}

// https://HOST:PORT: this node's identity as the client certificate, the node's key pinned.
Result<NodeEndpoint> tls_endpoint(const cluster::Membership& self, const cluster::NodeInfo& node) {
  if (node.tls_pubkey_sha256.empty())
    return Unexpected(Error(ENOTSUP, fmt::format("node {} advertises {} but publishes no TLS key", node.name, node.advertise))
                          .with_hint(fmt::format("start vesseld on {} with --listen tcp://ADDR:PORT", node.name)));
  const auto& mine = self.credentials();
  if (mine.cert_file.empty())
    return Unexpected(Error(ENOTSUP, fmt::format("node {} is reached over TLS, and this node ({}) has no TLS identity "
                                                 "to show it", node.name, self.name()))
                          .with_hint(fmt::format("start vesseld on {} with --listen tcp://ADDR:PORT", self.name())));
  NodeEndpoint e;
  e.base = node.advertise;
  while (e.base.size() > 8 && e.base.back() == '/') e.base.pop_back();
  e.options.client_cert = mine.cert_file;
  e.options.client_key = mine.key_file;
  e.options.pinned_public_key = TRY_CTX(http::public_key_pin(node.tls_pubkey_sha256), "node {}'s record", node.name);
  return e;
}
}  // namespace

Result<NodeEndpoint> node_endpoint(const cluster::Membership& self, const cluster::NodeInfo& node) {
  const std::string& a = node.advertise;
  if (a.starts_with("https://")) return tls_endpoint(self, node);
  NodeEndpoint e;
  e.socket = socket_of(a);
  if (e.socket.empty())
    return Unexpected(Error(EINVAL, fmt::format("node {} advertises {}: neither unix://SOCKET nor https://HOST:PORT",
                                                node.name, a.empty() ? "no address" : a))
                          .with_hint(fmt::format("restart vesseld on {} with --advertise", node.name)));
  e.base = "http://localhost";
  e.options.unix_socket = e.socket;
  return e;
}

namespace {
// The request's path and query, as received.
std::string target_of(const http::Request& r) {
  std::string target = r.path;
  char sep = '?';
  for (const auto& [k, v] : r.query) {
    target += sep + http::escape_segment(k) + (v.empty() ? "" : "=" + http::escape_segment(v));
    sep = '&';
  }
  return target;
}

Error unreachable(const cluster::NodeInfo& node, const std::string& instance, const Error& why) {
  std::string what = instance.empty() ? "" : fmt::format(" (where {} runs)", instance);
  std::string next = instance.empty()
                         ? "try again once it is back"
                         : fmt::format("if {} is down, {} moves to another node once its lease expires (when its restart "
                                       "policy asks), or remove it with vessel rm {}",
                                       node.name, instance, instance);
  return Error(EHOSTUNREACH, fmt::format("cannot reach node {}{} at {}: {}", node.name, what, node.advertise, why.to_string()))
      .with_hint(fmt::format("check it with vessel cluster inspect {}; {}", node.name, next));
}

// The connections kept open to each node (keep-alive), by its address and pinned key: a
// forwarded request skips the connect and, over TLS, the handshake. Never freed: the pools live
// as long as the process, and the nodes of a cluster are few.
http::ConnectionPool& pool_of(const NodeEndpoint& endpoint) {
  static std::mutex mutex;
  static auto* pools = new std::map<std::string, std::unique_ptr<http::ConnectionPool>>;
  std::lock_guard lock(mutex);
  auto& pool = (*pools)[endpoint.base + "|" + endpoint.socket + "|" + endpoint.options.pinned_public_key];
  if (!pool) pool = std::make_unique<http::ConnectionPool>();
  return *pool;
}

http::ClientOptions options_for(const NodeEndpoint& endpoint, const cluster::Membership& self) {
  http::ClientOptions o = endpoint.options;
  o.pool = &pool_of(endpoint);
  o.headers.push_back(fmt::format("X-Vessel-Forwarded: {}", self.name()));
  return o;
}

// Bytes from the other node's answer, handed from its reading thread to this node's answer.
struct Relay {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> chunks;
  size_t queued = 0;
  bool head = false, done = false, abandoned = false;
  long status = 0;
  std::string content_type;
  Result<http::ClientResponse> result = http::ClientResponse{};
};

// Marks the relay abandoned when this node's answer is dropped (the client went away).
struct Abandon {
  explicit Abandon(std::shared_ptr<Relay> r) : relay(std::move(r)) {}
  Abandon(const Abandon&) = delete;
  Abandon& operator=(const Abandon&) = delete;
  std::shared_ptr<Relay> relay;
  ~Abandon() {
    std::lock_guard lock(relay->mutex);
    relay->abandoned = true;
    relay->changed.notify_all();
  }
};

void read_answer(std::shared_ptr<Relay> relay, http::ClientOptions options, std::string base, http::Request r) {
  constexpr size_t kMaxQueued = 1 << 20;  // a slow client holds back the other node, not memory
  options.on_head = [&](long status, const std::map<std::string, std::string>& headers) {
    if (status >= 400) return;  // an error answer is kept whole (request_stream_headers) and sent at the end
    std::lock_guard lock(relay->mutex);
    relay->head = true;
    relay->status = status;
    if (auto it = headers.find("content-type"); it != headers.end()) relay->content_type = it->second;
    relay->changed.notify_all();
  };
  options.cancelled = [&] {
    std::lock_guard lock(relay->mutex);
    return relay->abandoned;
  };
  auto on_data = [&](std::string_view data) {
    std::unique_lock lock(relay->mutex);
    relay->changed.wait(lock, [&] { return relay->abandoned || relay->queued < kMaxQueued; });
    if (relay->abandoned) return false;
    relay->chunks.emplace_back(data);
    relay->queued += data.size();
    relay->changed.notify_all();
    return true;
  };
  std::string content_type = r.headers.count("content-type") ? r.headers["content-type"] : "application/json";
  auto result = http::request_stream_headers(options, r.method, base + target_of(r), r.body, content_type,
                                             on_data);
  std::lock_guard lock(relay->mutex);
  relay->result = std::move(result);
  relay->done = true;
  relay->changed.notify_all();
}

http::Response streamed(std::shared_ptr<Relay> relay) {
  http::Response resp;
  resp.status = static_cast<int>(relay->status);
  resp.content_type = relay->content_type.empty() ? "application/octet-stream" : relay->content_type;
  auto abandon = std::make_shared<Abandon>(relay);
  resp.stream = [relay, abandon](std::string& out) {
    std::unique_lock lock(relay->mutex);
    relay->changed.wait(lock, [&] { return !relay->chunks.empty() || relay->done; });
    if (relay->chunks.empty()) return false;
    out = std::move(relay->chunks.front());
    relay->chunks.pop_front();
    relay->queued -= out.size();
    relay->changed.notify_all();
    return true;
  };
  return resp;
}

// Copies bytes both ways until both sides have ended (an end is passed on as a half-close, as
// exec's stdin ends before its output): `to_b` first goes to b, `to_a` to a.
void splice_both_ways(int a, int b, const std::string& to_b, const std::string& to_a) {
  if (!unix_socket::send_all(b, to_b) || !unix_socket::send_all(a, to_a)) return;
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buf[16384];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      int to = i == 0 ? b : a;
      if (n > 0 && unix_socket::send_all(to, std::string_view(buf, static_cast<size_t>(n)))) continue;
      if (n < 0) return;  // a broken connection: both end
      ::shutdown(to, SHUT_WR);
      fds[i].fd = -1;
    }
  }
}

// exec with a terminal or stdin: the other node's upgraded stream, relayed byte for byte.
http::Response forward_upgrade(const cluster::NodeInfo& node, const NodeEndpoint& endpoint, const std::string& self,
                               const std::string& instance, const http::Request& r) {
  auto protocol = r.headers.count("upgrade") ? r.headers.at("upgrade") : std::string();
  std::vector<std::string> headers{fmt::format("X-Vessel-Forwarded: {}", self)};
  auto answer = endpoint.socket.empty()
                    ? http::open_upgrade_tls(endpoint.options, endpoint.base, r.method, target_of(r), protocol, r.body, headers)
                    : http::open_upgrade(endpoint.socket, r.method, target_of(r), protocol, r.body, headers);
  if (!answer) return Api::error_response(unreachable(node, instance, answer.error()), 502);
  if (answer->status != 101) return http::Response::json(answer->status, answer->rest);
  http::Response resp;
  resp.status = 101;
  resp.headers["Upgrade"] = protocol;
  auto upstream = std::make_shared<http::UpgradeAnswer>(std::move(*answer));
  resp.upgrade = [upstream](int fd, std::string early) { splice_both_ways(fd, upstream->fd.get(), early, upstream->rest); };
  return resp;
}
}  // namespace

http::Response forward_to(const cluster::Membership& self, const cluster::NodeInfo& node, const std::string& instance,
                          const http::Request& r) {
  auto endpoint = node_endpoint(self, node);
  if (!endpoint) return Api::error_response(endpoint.error());
  if (r.headers.count("upgrade")) return forward_upgrade(node, *endpoint, self.name(), instance, r);
  auto relay = std::make_shared<Relay>();
  std::thread(read_answer, relay, options_for(*endpoint, self), endpoint->base, r).detach();
  std::unique_lock lock(relay->mutex);
  relay->changed.wait(lock, [&] { return relay->head || relay->done; });
  if (relay->head) {
    lock.unlock();
    return streamed(relay);
  }
  // Finished before any body: an error, an empty answer, or the node was not reached.
  if (!relay->result) return Api::error_response(unreachable(node, instance, relay->result.error()), 502);
  const auto& answer = *relay->result;
  if (answer.status == 204) return http::Response::no_content();
  http::Response resp;
  resp.status = static_cast<int>(answer.status);
  resp.body = answer.body;
  if (auto it = answer.headers.find("content-type"); it != answer.headers.end()) resp.content_type = it->second;
  return resp;
}

Result<http::ClientResponse> call_node(const cluster::Membership& self, const cluster::NodeInfo& node,
                                       const std::string& method, const std::string& target, const std::string& body,
                                       std::chrono::milliseconds timeout) {
  auto endpoint = TRY(node_endpoint(self, node));
  auto options = options_for(endpoint, self);
  options.timeout = timeout;
  auto answer = http::request(options, method, endpoint.base + target, body);
  if (!answer) return Unexpected(unreachable(node, "", answer.error()));
  return answer;
}

Result<http::ClientResponse> stream_from_node(const cluster::Membership& self, const cluster::NodeInfo& node,
                                              const std::string& method, const std::string& target,
                                              const std::string& body,
                                              const std::function<bool(std::string_view)>& on_data,
                                              std::chrono::seconds stall) {
  auto endpoint = TRY(node_endpoint(self, node));
  auto options = options_for(endpoint, self);
  options.stall_timeout = stall;
  auto answer = http::request_stream_headers(options, method, endpoint.base + target, body, "application/json", on_data);
  if (!answer) return Unexpected(unreachable(node, "", answer.error()));
  return answer;
}

}  // namespace vessel::daemon
