// What etcd's JSON gateway answers (v3 API, grpc-gateway encoding): int64 fields arrive as JSON
// strings, bytes as base64, zero values are left out. Parsing is pure (tests/fuzz/cluster): the
// bytes come from the network, so every field is checked and a bad answer is an EPROTO error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::cluster::etcd {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct RangeReply {
  int64_t revision = 0;  // the store's revision when it was read
  std::vector<KeyValue> kvs;
  int64_t count = 0;
  bool more = false;
};

struct PutReply {
  int64_t revision = 0;
};

struct DeleteReply {
  int64_t revision = 0;
  int64_t deleted = 0;
};

// One answer inside a transaction, in the order of the operations that ran.
struct TxnResponse {
  enum class Kind { Range, Put, Delete } kind = Kind::Put;
  RangeReply range;      // Kind::Range
  int64_t deleted = 0;   // Kind::Delete
};

struct TxnReply {
  int64_t revision = 0;
  bool succeeded = false;  // the comparisons held: the `success` operations ran
  std::vector<TxnResponse> responses;
};

struct LeaseGrant {
  int64_t id = 0;
  int64_t ttl = 0;
};

// ttl == 0: the lease does not exist any more (expired or revoked).
struct LeaseKeepAlive {
  int64_t id = 0;
  int64_t ttl = 0;
};

struct WatchEvent {
  enum class Type { Put, Delete } type = Type::Put;
  KeyValue kv;  // Delete: the key and its mod_revision only
};

// One message of a watch stream.
struct WatchMessage {
  int64_t revision = 0;
  int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // canceled because the start revision was compacted
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};

// The key that holds an election's leadership; resign and proclaim name it.
struct LeaderKey {
  std::string name;
  std::string key;
  int64_t rev = 0;
  int64_t lease = 0;
};

// An error body of the gateway ({"error","message","code"} or, inside a stream,
// {"error":{"grpc_code","message",...}}) as an Error: the gRPC code picks the errno
// (NOT_FOUND -> ENOENT, INVALID_ARGUMENT -> EINVAL, DEADLINE_EXCEEDED -> ETIMEDOUT, ...).
Error error_of(long http_status, std::string_view body);
int errno_of_grpc_code(int64_t code);
// Is `body` the answer of a member while the members elect a leader: gRPC UNAVAILABLE with
// "etcdserver: leader changed" (a linearizable read that lost its read index) or "etcdserver: no
// leader" (nobody to ask)? etcd carried nothing out for such a request (a read, a lease renewal,
// or refused before any work), so another member may be asked. Every other error answer stands as
// it is: NOT_FOUND, a compacted revision, a failed precondition, and "request timed out" (also
// UNAVAILABLE) after which a write may still be applied.
bool is_election_answer(std::string_view body);

Result<RangeReply> parse_range(const json::Json& j);
Result<PutReply> parse_put(const json::Json& j);
Result<DeleteReply> parse_delete(const json::Json& j);
Result<TxnReply> parse_txn(const json::Json& j);
Result<LeaseGrant> parse_lease_grant(const json::Json& j);
Result<LeaseKeepAlive> parse_keepalive(const json::Json& j);  // the {"result":...} wrapper or bare
Result<WatchMessage> parse_watch(const json::Json& j);        // the {"result":...} wrapper
Result<LeaderKey> parse_campaign(const json::Json& j);
// The leader's key and value; nullopt when the answer has no kv.
Result<std::optional<KeyValue>> parse_leader(const json::Json& j);

// A stream of JSON documents, one per line (the gateway's streamed answers): bytes go in as they
// arrive, whole lines come out. A line longer than `max_line` is an error (a hostile server).
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = 8 << 20) : max_line_(max_line) {}
  Result<void> append(std::string_view bytes);
  std::optional<std::string> next();
  size_t buffered() const { return buffer_.size() - start_; }

 private:
  size_t max_line_;
  std::string buffer_;
  size_t start_ = 0;
};

}  // namespace vessel::cluster::etcd
