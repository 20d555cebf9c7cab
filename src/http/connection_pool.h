// Client connections kept open between requests (HTTP keep-alive): idle libcurl handles, each
// holding its open connection and its TLS session, handed to the next request that names the
// pool (ClientOptions::pool). A request to a server it already reached skips the connect and the
// TLS handshake. A connection the server closed meanwhile is noticed by libcurl, which connects
// again. Thread-safe: a handle serves one request at a time.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

namespace vessel::http {

class ConnectionPool {
 public:
  explicit ConnectionPool(size_t max_idle = 8) : max_idle_(max_idle) {}
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  size_t idle() const;

  // Internal to vessel_http (client.cc): a CURL*, or nullptr when none is idle; and one back,
  // its options reset (kept: its connections and TLS sessions). Beyond max_idle it is closed.
  void* take();
  void give(void* curl_handle);

 private:
  mutable std::mutex mutex_;
  std::vector<void*> idle_;
  size_t max_idle_;
};

}  // namespace vessel::http
