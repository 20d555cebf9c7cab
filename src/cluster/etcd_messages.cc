#include "cluster/etcd_messages.h"

#include <charconv>

#include "base/base64.h"

namespace vessel::cluster::etcd {

using json::Json;

namespace {

Unexpected bad(std::string_view where, std::string_view what) {
  return Unexpected(Error(EPROTO, fmt::format("etcd answer: {}: {}", where, what)));
}

// An int64 field: a JSON string of digits (the gateway's encoding) or a number; 0 when absent.
Result<int64_t> int_field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return bad(key, fmt::format("expected an integer, got {}", it->type_name()));
  const auto& s = it->get_ref<const std::string&>();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty())
    return bad(key, fmt::format("expected an integer, got \"{}\"", s.substr(0, 40)));
  return v;
}

Result<bool> bool_field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_boolean()) return bad(key, fmt::format("expected a boolean, got {}", it->type_name()));
  return it->get<bool>();
}

Result<std::string> bytes_field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad(key, fmt::format("expected base64 text, got {}", it->type_name()));
  auto decoded = base64_decode(it->get_ref<const std::string&>());
  if (!decoded) return bad(key, decoded.error().message());
  return std::move(*decoded);
}

Result<std::string> string_field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad(key, fmt::format("expected a string, got {}", it->type_name()));
  return it->get<std::string>();
}

Result<const Json*> object_field(const Json& obj, const char* key, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return bad(key, "missing");
    return nullptr;
  }
  if (!it->is_object()) return bad(key, fmt::format("expected an object, got {}", it->type_name()));
  return &*it;
}

Result<const Json*> expect_object(const Json& j, std::string_view what) {
  if (!j.is_object()) return bad(what, fmt::format("expected an object, got {}", j.type_name()));
  return &j;
}

Result<int64_t> header_revision(const Json& obj) {
  const Json* header = TRY(object_field(obj, "header", false));
  if (header == nullptr) return 0;
  return int_field(*header, "revision");
}

Result<KeyValue> parse_kv(const Json& j) {
  TRY(expect_object(j, "kv"));
  KeyValue kv;
  kv.key = TRY(bytes_field(j, "key"));
  kv.value = TRY(bytes_field(j, "value"));
  kv.create_revision = TRY(int_field(j, "create_revision"));
  kv.mod_revision = TRY(int_field(j, "mod_revision"));
  kv.version = TRY(int_field(j, "version"));
  kv.lease = TRY(int_field(j, "lease"));
  return kv;
}

Result<const Json*> array_field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  if (!it->is_array()) return bad(key, fmt::format("expected an array, got {}", it->type_name()));
  return &*it;
}

// A streamed message: {"result": {...}} or {"error": {...}}.
Result<const Json*> stream_result(const Json& j) {
  TRY(expect_object(j, "stream message"));
  if (j.contains("error")) return Unexpected(error_of(200, json::dump(j)));
  return object_field(j, "result", true);
}

}  // namespace

int errno_of_grpc_code(int64_t code) {
  switch (code) {
    case 1: return ECANCELED;    // CANCELLED
    case 3: return EINVAL;       // INVALID_ARGUMENT
    case 4: return ETIMEDOUT;    // DEADLINE_EXCEEDED
    case 5: return ENOENT;       // NOT_FOUND
    case 6: return EEXIST;       // ALREADY_EXISTS
    case 7: return EPERM;        // PERMISSION_DENIED
    case 8: return ENOSPC;       // RESOURCE_EXHAUSTED
    case 9: return EAGAIN;       // FAILED_PRECONDITION
    case 10: return EAGAIN;      // ABORTED
    case 11: return ERANGE;      // OUT_OF_RANGE (a compacted revision)
    case 14: return EAGAIN;      // UNAVAILABLE (no leader, a member restarting)
    case 16: return EACCES;      // UNAUTHENTICATED
    default: return EIO;
  }
}

namespace {
// The gateway's error body: {"error","message","code"} or, in a stream, {"error":{"grpc_code",...}}.
struct ErrorBody {
  std::string message;
  int64_t code = -1;  // the gRPC code; -1 when the body names none
};

ErrorBody error_body(std::string_view body) {
  ErrorBody out;
  auto j = json::parse(body, 1 << 20);
  if (!j || !j->is_object()) return out;
  const Json* e = &*j;
  if (auto it = j->find("error"); it != j->end() && it->is_object()) e = &*it;
  if (auto m = e->find("message"); m != e->end() && m->is_string()) out.message = m->get<std::string>();
  for (const char* key : {"code", "grpc_code"}) {
    if (auto c = e->find(key); c != e->end() && c->is_number_integer()) out.code = c->get<int64_t>();
  }
  if (out.message.empty()) {
    if (auto m = j->find("error"); m != j->end() && m->is_string()) out.message = m->get<std::string>();
  }
  return out;
}
}  // namespace

Error error_of(long http_status, std::string_view body) {
  ErrorBody e = error_body(body);
  if (e.message.empty()) e.message = fmt::format("HTTP {}: {}", http_status, body.substr(0, 200));
  return Error(e.code >= 0 ? errno_of_grpc_code(e.code) : EIO, fmt::format("etcd: {}", e.message));
}

bool is_election_answer(std::string_view body) {
  ErrorBody e = error_body(body);
  return e.code == 14 && (e.message == "etcdserver: leader changed" || e.message == "etcdserver: no leader");
}

Result<RangeReply> parse_range(const Json& j) {
  TRY(expect_object(j, "range"));
  RangeReply r;
  r.revision = TRY(header_revision(j));
  if (const Json* kvs = TRY(array_field(j, "kvs"))) {
    for (const auto& kv : *kvs) r.kvs.push_back(TRY(parse_kv(kv)));
  }
  r.count = TRY(int_field(j, "count"));
  r.more = TRY(bool_field(j, "more"));
  return r;
}

Result<PutReply> parse_put(const Json& j) {
  TRY(expect_object(j, "put"));
  return PutReply{TRY(header_revision(j))};
}

Result<DeleteReply> parse_delete(const Json& j) {
  TRY(expect_object(j, "deleterange"));
  return DeleteReply{TRY(header_revision(j)), TRY(int_field(j, "deleted"))};
}

Result<TxnReply> parse_txn(const Json& j) {
  TRY(expect_object(j, "txn"));
  TxnReply r;
  r.revision = TRY(header_revision(j));
  r.succeeded = TRY(bool_field(j, "succeeded"));
  const Json* responses = TRY(array_field(j, "responses"));
  if (responses == nullptr) return r;
  for (const auto& op : *responses) {
    TRY(expect_object(op, "responses[]"));
    TxnResponse out;
    if (const Json* range = TRY(object_field(op, "response_range", false))) {
      out.kind = TxnResponse::Kind::Range;
      out.range = TRY(parse_range(*range));
    } else if (const Json* del = TRY(object_field(op, "response_delete_range", false))) {
      out.kind = TxnResponse::Kind::Delete;
      out.deleted = TRY(int_field(*del, "deleted"));
    } else if (TRY(object_field(op, "response_put", false)) != nullptr) {
      out.kind = TxnResponse::Kind::Put;
    } else {
      return bad("responses[]", "no response_range, response_put or response_delete_range");
    }
    r.responses.push_back(std::move(out));
  }
  return r;
}

Result<LeaseGrant> parse_lease_grant(const Json& j) {
  TRY(expect_object(j, "lease grant"));
  if (auto e = TRY(string_field(j, "error")); !e.empty()) return fail(EIO, "etcd: lease grant: {}", e);
  LeaseGrant g{TRY(int_field(j, "ID")), TRY(int_field(j, "TTL"))};
  if (g.id == 0 || g.ttl <= 0) return bad("lease grant", "no ID or TTL");
  return g;
}

Result<LeaseKeepAlive> parse_keepalive(const Json& j) {
  const Json* r = &j;
  if (j.is_object() && (j.contains("result") || j.contains("error"))) r = TRY(stream_result(j));
  TRY(expect_object(*r, "lease keepalive"));
  return LeaseKeepAlive{TRY(int_field(*r, "ID")), TRY(int_field(*r, "TTL"))};
}

Result<WatchMessage> parse_watch(const Json& j) {
  const Json& r = *TRY(stream_result(j));
  WatchMessage m;
  m.revision = TRY(header_revision(r));
  m.watch_id = TRY(int_field(r, "watch_id"));
  m.created = TRY(bool_field(r, "created"));
  m.canceled = TRY(bool_field(r, "canceled"));
  m.compact_revision = TRY(int_field(r, "compact_revision"));
  m.cancel_reason = TRY(string_field(r, "cancel_reason"));
  const Json* events = TRY(array_field(r, "events"));
  if (events == nullptr) return m;
  for (const auto& e : *events) {
    TRY(expect_object(e, "events[]"));
    WatchEvent out;
    std::string type = TRY(string_field(e, "type"));
    if (type == "DELETE") out.type = WatchEvent::Type::Delete;
    else if (!type.empty() && type != "PUT") return bad("events[].type", fmt::format("unknown \"{}\"", type.substr(0, 40)));
    const Json* kv = TRY(object_field(e, "kv", true));
    out.kv = TRY(parse_kv(*kv));
    m.events.push_back(std::move(out));
  }
  return m;
}

Result<LeaderKey> parse_campaign(const Json& j) {
  TRY(expect_object(j, "campaign"));
  const Json* l = TRY(object_field(j, "leader", true));
  LeaderKey k;
  k.name = TRY(bytes_field(*l, "name"));
  k.key = TRY(bytes_field(*l, "key"));
  k.rev = TRY(int_field(*l, "rev"));
  k.lease = TRY(int_field(*l, "lease"));
  if (k.key.empty()) return bad("campaign.leader", "no key");
  return k;
}

Result<std::optional<KeyValue>> parse_leader(const Json& j) {
  TRY(expect_object(j, "leader"));
  const Json* kv = TRY(object_field(j, "kv", false));
  if (kv == nullptr) return std::optional<KeyValue>();
  return std::optional<KeyValue>(TRY(parse_kv(*kv)));
}

Result<void> LineSplitter::append(std::string_view bytes) {
  if (start_ > 0 && start_ == buffer_.size()) buffer_.clear(), start_ = 0;
  buffer_.append(bytes);
  if (buffer_.find('\n', start_) == std::string::npos && buffered() > max_line_)
    return fail(EPROTO, "etcd stream: a message longer than {} bytes", max_line_);
  return {};
}

std::optional<std::string> LineSplitter::next() {
  while (true) {
    auto nl = buffer_.find('\n', start_);
    if (nl == std::string::npos) {
      if (start_ > 0) buffer_.erase(0, start_), start_ = 0;
      return std::nullopt;
    }
    std::string line = buffer_.substr(start_, nl - start_);
    start_ = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) return line;
  }
}

}  // namespace vessel::cluster::etcd
