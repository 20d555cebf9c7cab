// Tests only: a tiny HTTP/1.1 server on a loopback port, one thread per connection, one request
// per connection (Connection: close). The test's handler answers each request with raw bytes,
// so it can send what no real registry would: wrong digests, truncated bodies, redirect loops,
// huge documents, 401/403/429/5xx.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vessel::test {

struct FakeRequest {
  std::string method, path, query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class FakeRegistry {
 public:
  // The handler returns the whole answer (status line, headers, body), or writes to the socket
  // itself and returns "" (to cut a body short).
  using Handler = std::function<std::string(const FakeRequest&, int fd)>;

  explicit FakeRegistry(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FakeRegistry() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // Requests seen, "METHOD PATH" each.
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  static std::string answer(int status, const std::string& body, const std::vector<std::string>& headers = {}) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n";
    for (const auto& h : headers) out += h + "\r\n";
    return out + "\r\n" + body;
  }
  static void send_all(int fd, const std::string& data) {
    for (size_t off = 0; off < data.size();) {
      ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int fd) {
    std::string data;
    char buf[4096];
    while (data.find("\r\n\r\n") == std::string::npos && data.size() < 65536) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
      // Not HTTP (vessel tries TLS first): answer at once instead of waiting for a blank line.
      if (!std::isupper(static_cast<unsigned char>(data[0]))) break;
    }
    FakeRequest r;
    auto line_end = data.find("\r\n");
    std::string line = data.substr(0, line_end);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 != std::string::npos && sp2 > sp1) {
      r.method = line.substr(0, sp1);
      std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      auto q = target.find('?');
      r.path = target.substr(0, q);
      if (q != std::string::npos) r.query = target.substr(q + 1);
    }
    for (size_t pos = line_end + 2; pos < data.size();) {
      auto end = data.find("\r\n", pos);
      if (end == std::string::npos || end == pos) break;
      std::string h = data.substr(pos, end - pos);
      auto colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers[name] = value;
      }
      pos = end + 2;
    }
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(r.method + " " + r.path);
    }
    send_all(fd, handler_(r, fd));
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // joined at the end (tests make few connections)
  std::mutex mutex_;
  std::vector<std::string> seen_;
};

}  // namespace vessel::test
