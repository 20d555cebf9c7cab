// An etcd v3 client over etcd's JSON gateway (HTTP/1.1 + libcurl through src/http): keys, ranges,
// transactions, leases, watches and elections. Every call returns a Result: etcd down, a timeout,
// an error answer or a malformed one is an Error naming the endpoint, never an exception.
//
// Thread-safe: one Client may be shared by threads (the lease keeper, API handlers). Calls go to
// the endpoint that last answered; when it cannot be reached the next ones are tried in turn.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "cluster/etcd_messages.h"
#include "cluster/etcd_txn.h"

namespace vessel::cluster::etcd {

struct ClientConfig {
  std::vector<std::string> endpoints;  // http://HOST:PORT, at least one
  std::chrono::milliseconds timeout{5000};  // each unary call, per endpoint tried
};

struct WatchRequest {
  std::string key;
  std::string range_end;       // empty: the key alone; prefix_end(key): every key under it
  int64_t start_revision = 0;  // 0: changes after now
  std::function<bool()> cancelled;  // polled about once a second; true ends the watch (ECANCELED)
};

class Client {
 public:
  // Checks the endpoints' form (http:// URLs); contacts nobody.
  static Result<std::unique_ptr<Client>> create(ClientConfig config);

  // Parses "URL[,URL...]" as the endpoints (vesseld --cluster).
  static Result<std::vector<std::string>> parse_endpoints(const std::string& list);

  Result<std::optional<KeyValue>> get(const std::string& key) const;
  Result<RangeReply> range(const std::string& key, const std::string& range_end, int64_t limit = 0) const;
  Result<RangeReply> get_prefix(const std::string& prefix) const;
  Result<PutReply> put(const std::string& key, const std::string& value, int64_t lease = 0) const;
  Result<DeleteReply> remove(const std::string& key) const;
  Result<DeleteReply> remove_prefix(const std::string& prefix) const;
  Result<TxnReply> txn(const Txn& txn) const;

  Result<LeaseGrant> grant(int64_t ttl_seconds) const;
  // One renewal; ttl == 0 in the answer: the lease is gone (expired or revoked).
  Result<LeaseKeepAlive> keepalive(int64_t lease) const;
  Result<void> revoke(int64_t lease) const;

  // Streams the changes to on_message (the first message has created == true) until on_message
  // returns false (then: success), the request is cancelled (ECANCELED) or the stream breaks
  // (an error; watch again from the last revision seen + 1).
  Result<void> watch(const WatchRequest& request,
                     const std::function<bool(const WatchMessage&)>& on_message) const;

  // Blocks until this caller leads election `name` (its key lives as long as `lease`), at most
  // `wait` (ETIMEDOUT) or until `cancelled` says so (ECANCELED).
  Result<LeaderKey> campaign(const std::string& name, int64_t lease, const std::string& value,
                             std::chrono::milliseconds wait,
                             const std::function<bool()>& cancelled = {}) const;
  // The leader's key and value; nullopt when the election has no leader.
  Result<std::optional<KeyValue>> leader(const std::string& name) const;
  Result<void> resign(const LeaderKey& leader) const;
  Result<void> proclaim(const LeaderKey& leader, const std::string& value) const;

  const std::vector<std::string>& endpoints() const { return config_.endpoints; }

 private:
  explicit Client(ClientConfig config) : config_(std::move(config)) {}
  struct CallOptions {
    std::chrono::milliseconds timeout;
    std::function<bool()> cancelled;
  };
  // POSTs `body` to `path` on the endpoints in turn; the parsed JSON answer of a 200.
  Result<json::Json> call(const std::string& path, const json::Json& body) const;
  Result<json::Json> call(const std::string& path, const json::Json& body, const CallOptions& options) const;

  ClientConfig config_;
  mutable std::atomic<size_t> preferred_{0};
};

}  // namespace vessel::cluster::etcd
