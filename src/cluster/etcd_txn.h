// An etcd transaction: if every comparison holds, the `success` operations run, otherwise the
// `failure` ones, atomically at one revision. Compare-and-swap is a txn on mod_revision.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/json.h"

namespace vessel::cluster::etcd {

struct Compare {
  enum class Target { Version, Create, Mod, Value, Lease };
  enum class Result { Equal, Greater, Less, NotEqual };
  std::string key;
  Target target = Target::Mod;
  Result result = Result::Equal;
  int64_t number = 0;  // Version, Create, Mod, Lease
  std::string value;   // Value

  // The key does not exist (its create revision is 0).
  static Compare absent(std::string key);
  // The key was last written at `revision` (0: it does not exist).
  static Compare mod_revision_is(std::string key, int64_t revision);
  static Compare value_is(std::string key, std::string value);
};

struct Operation {
  enum class Kind { Put, Range, Delete };
  Kind kind = Kind::Put;
  std::string key;
  std::string value;      // Put
  std::string range_end;  // Range, Delete: [key, range_end); empty: the key alone
  int64_t lease = 0;      // Put

  static Operation put(std::string key, std::string value, int64_t lease = 0);
  static Operation get(std::string key);
  static Operation remove(std::string key);
};

struct Txn {
  std::vector<Compare> compare;
  std::vector<Operation> success;
  std::vector<Operation> failure;
};

// The request body of /v3/kv/txn.
json::Json txn_request(const Txn& txn);

// The end of the range holding every key that starts with `prefix` (etcd's clientv3.GetPrefixRangeEnd).
std::string prefix_end(const std::string& prefix);

}  // namespace vessel::cluster::etcd
