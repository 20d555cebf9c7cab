#include "cluster/etcd_txn.h"

#include "base/base64.h"

namespace vessel::cluster::etcd {

using json::Json;

Compare Compare::absent(std::string key) {
  return Compare{std::move(key), Target::Create, Result::Equal, 0, {}};
}

Compare Compare::mod_revision_is(std::string key, int64_t revision) {
  return Compare{std::move(key), Target::Mod, Result::Equal, revision, {}};
}

Compare Compare::value_is(std::string key, std::string value) {
  return Compare{std::move(key), Target::Value, Result::Equal, 0, std::move(value)};
}

Operation Operation::put(std::string key, std::string value, int64_t lease) {
  return Operation{Kind::Put, std::move(key), std::move(value), {}, lease};
}

Operation Operation::get(std::string key) { return Operation{Kind::Range, std::move(key), {}, {}, 0}; }

Operation Operation::remove(std::string key) { return Operation{Kind::Delete, std::move(key), {}, {}, 0}; }

namespace {

Json compare_json(const Compare& c) {
  static constexpr const char* kTargets[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
  static constexpr const char* kResults[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
  static constexpr const char* kFields[] = {"version", "create_revision", "mod_revision", "value", "lease"};
  auto target = static_cast<size_t>(c.target);
  Json j = {{"key", base64_encode(c.key)},
            {"target", kTargets[target]},
            {"result", kResults[static_cast<size_t>(c.result)]}};
  if (c.target == Compare::Target::Value) j["value"] = base64_encode(c.value);
  else j[kFields[target]] = std::to_string(c.number);
  return j;
}

Json operation_json(const Operation& op) {
  Json body = {{"key", base64_encode(op.key)}};
  switch (op.kind) {
    case Operation::Kind::Put:
      body["value"] = base64_encode(op.value);
      if (op.lease != 0) body["lease"] = std::to_string(op.lease);
      return {{"request_put", body}};
    case Operation::Kind::Range:
      if (!op.range_end.empty()) body["range_end"] = base64_encode(op.range_end);
      return {{"request_range", body}};
    case Operation::Kind::Delete:
      if (!op.range_end.empty()) body["range_end"] = base64_encode(op.range_end);
      return {{"request_delete_range", body}};
  }
  return body;
}

}  // namespace

Json txn_request(const Txn& txn) {
  Json j = {{"compare", Json::array()}, {"success", Json::array()}, {"failure", Json::array()}};
  for (const auto& c : txn.compare) j["compare"].push_back(compare_json(c));
  for (const auto& op : txn.success) j["success"].push_back(operation_json(op));
  for (const auto& op : txn.failure) j["failure"].push_back(operation_json(op));
  return j;
}

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key (etcd's convention for an all-0xff prefix)
}

}  // namespace vessel::cluster::etcd
