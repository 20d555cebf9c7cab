#include "cluster/etcd_client.h"

#include <algorithm>
#include <optional>

#include "base/base64.h"
#include "base/key_values.h"
#include "http/http.h"

namespace vessel::cluster::etcd {

using json::Json;

Result<std::vector<std::string>> Client::parse_endpoints(const std::string& list) {
  std::vector<std::string> out;
  for (const auto& part : split_key_values(list)) {
    std::string url = part.item;
    while (!url.empty() && (url.back() == '/' || url.back() == ' ')) url.pop_back();
    while (!url.empty() && url.front() == ' ') url.erase(0, 1);
    if (!url.empty()) out.push_back(url);
  }
  if (out.empty()) return fail(EINVAL, "no etcd endpoint in \"{}\"", list);
  return out;
}

Result<std::unique_ptr<Client>> Client::create(ClientConfig config) {
  if (config.endpoints.empty()) return fail(EINVAL, "etcd client: no endpoint");
  for (const auto& url : config.endpoints) {
    if (!url.starts_with("http://") || url.size() <= 7 || url.find_first_of(" \t\r\n") != std::string::npos)
      return Unexpected(Error(EINVAL, fmt::format("etcd endpoint \"{}\" is not an http://HOST:PORT URL", url))
                            .with_hint("give etcd's client URLs, e.g. http://127.0.0.1:2379"));
  }
  if (config.timeout.count() <= 0) return fail(EINVAL, "etcd client: the timeout must be positive");
  return std::unique_ptr<Client>(new Client(std::move(config)));
}

Result<Json> Client::call(const std::string& path, const Json& body) const {
  return call(path, body, CallOptions{config_.timeout, {}});
}

Result<Json> Client::call(const std::string& path, const Json& body, const CallOptions& options) const {
  using Clock = std::chrono::steady_clock;
  std::string text = json::dump(body);
  const auto& urls = config_.endpoints;
  size_t first = preferred_.load();
  std::string failures;
  bool timed_out = true;  // every endpoint used up the timeout: ETIMEDOUT rather than unreachable
  // A member's "leader changed" or "no leader" (is_election_answer): the next member is asked, each
  // once and only within the call's timeout; the last such answer is returned when none answers.
  auto deadline = Clock::now() + options.timeout;
  std::optional<Error> election;
  for (size_t i = 0; i < urls.size(); ++i) {
    size_t index = (first + i) % urls.size();
    http::ClientOptions o;
    o.timeout = options.timeout;
    o.cancelled = options.cancelled;
    auto start = Clock::now();
    if (election) {
      o.timeout = std::min(options.timeout, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - start));
      if (o.timeout.count() <= 0) break;
    }
    auto answer = http::request(o, "POST", urls[index] + path, text);
    if (!answer) {
      if (answer.error().errnum() == ECANCELED) return Unexpected(std::move(answer).error());
      timed_out = timed_out && Clock::now() - start >= o.timeout - std::chrono::milliseconds(20);
      failures += (failures.empty() ? "" : "; ") + answer.error().message();
      continue;
    }
    if (answer->status != 200 && is_election_answer(answer->body)) {
      election = error_of(answer->status, answer->body).add_context(fmt::format("{}{}", urls[index], path));
      continue;
    }
    preferred_.store(index);
    if (answer->status != 200) return Unexpected(error_of(answer->status, answer->body).add_context(fmt::format("{}{}", urls[index], path)));
    auto parsed = json::parse(answer->body);
    if (!parsed) return fail(EPROTO, "etcd at {}: {}: the answer is not JSON: {}", urls[index], path, parsed.error().message());
    return parsed;
  }
  if (election)
    return Unexpected(std::move(*election).with_hint("the etcd members are electing a leader (about a second); try again"));
  if (timed_out)
    return Unexpected(Error(ETIMEDOUT, fmt::format("etcd: no answer within {} ms: {}", options.timeout.count(), failures))
                          .with_hint("etcd may be overloaded, frozen or cut off; try again"));
  return Unexpected(Error(EHOSTUNREACH, fmt::format("etcd: {}", failures))
                        .with_hint("is etcd running and are the --cluster URLs its client URLs?"));
}

Result<std::optional<KeyValue>> Client::get(const std::string& key) const {
  auto r = TRY(range(key, {}, 1));
  if (r.kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(r.kvs.front()));
}

Result<RangeReply> Client::range(const std::string& key, const std::string& range_end, int64_t limit) const {
  Json body = {{"key", base64_encode(key)}};
  if (!range_end.empty()) body["range_end"] = base64_encode(range_end);
  if (limit > 0) body["limit"] = std::to_string(limit);
  return parse_range(TRY(call("/v3/kv/range", body)));
}

Result<RangeReply> Client::get_prefix(const std::string& prefix) const { return range(prefix, prefix_end(prefix)); }

Result<PutReply> Client::put(const std::string& key, const std::string& value, int64_t lease) const {
  Json body = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) body["lease"] = std::to_string(lease);
  return parse_put(TRY(call("/v3/kv/put", body)));
}

Result<DeleteReply> Client::remove(const std::string& key) const {
  return parse_delete(TRY(call("/v3/kv/deleterange", Json{{"key", base64_encode(key)}})));
}

Result<DeleteReply> Client::remove_prefix(const std::string& prefix) const {
  Json body = {{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}};
  return parse_delete(TRY(call("/v3/kv/deleterange", body)));
}

Result<TxnReply> Client::txn(const Txn& t) const { return parse_txn(TRY(call("/v3/kv/txn", txn_request(t)))); }

Result<LeaseGrant> Client::grant(int64_t ttl_seconds) const {
  if (ttl_seconds <= 0) return fail(EINVAL, "lease TTL must be at least 1 s, not {}", ttl_seconds);
  return parse_lease_grant(TRY(call("/v3/lease/grant", Json{{"TTL", std::to_string(ttl_seconds)}})));
}

Result<LeaseKeepAlive> Client::keepalive(int64_t lease) const {
  return parse_keepalive(TRY(call("/v3/lease/keepalive", Json{{"ID", std::to_string(lease)}})));
}

Result<void> Client::revoke(int64_t lease) const {
  TRY(call("/v3/lease/revoke", Json{{"ID", std::to_string(lease)}}));
  return {};
}

Result<LeaderKey> Client::campaign(const std::string& name, int64_t lease, const std::string& value,
                                   std::chrono::milliseconds wait, const std::function<bool()>& cancelled) const {
  Json body = {{"name", base64_encode(name)}, {"lease", std::to_string(lease)}, {"value", base64_encode(value)}};
  auto answer = call("/v3/election/campaign", body, CallOptions{wait, cancelled});
  if (!answer) return Unexpected(std::move(answer).error().add_context(fmt::format("campaign for {}", name)));
  return parse_campaign(*answer);
}

Result<std::optional<KeyValue>> Client::leader(const std::string& name) const {
  auto answer = call("/v3/election/leader", Json{{"name", base64_encode(name)}});
  // "election: no leader" is gRPC's UNKNOWN (EIO) with that message: an empty election (not
  // etcd's "etcdserver: no leader", a member without a leader, which is an error).
  if (!answer && answer.error().message().find("election: no leader") != std::string::npos)
    return std::optional<KeyValue>();
  if (!answer) return Unexpected(std::move(answer).error());
  return parse_leader(*answer);
}

namespace {
Json leader_json(const LeaderKey& l) {
  return {{"name", base64_encode(l.name)},
          {"key", base64_encode(l.key)},
          {"rev", std::to_string(l.rev)},
          {"lease", std::to_string(l.lease)}};
}
}  // namespace

Result<void> Client::resign(const LeaderKey& l) const {
  TRY(call("/v3/election/resign", Json{{"leader", leader_json(l)}}));
  return {};
}

Result<void> Client::proclaim(const LeaderKey& l, const std::string& value) const {
  TRY(call("/v3/election/proclaim", Json{{"leader", leader_json(l)}, {"value", base64_encode(value)}}));
  return {};
}

}  // namespace vessel::cluster::etcd
