// An instance's membership of a pool (docs/daemon/pools.md): `vessel run --pool NAME --share P
// --priority N [--best-effort]`, in the spec as {"pool": {"name": "web", "share": 2, "priority": 0}}
// (and "best_effort": true).
#pragma once

#include <string>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

inline constexpr double kMaxShare = 1e6;
inline constexpr int kMaxPriority = 1000;

struct PoolMembership {
  std::string pool;
  double share = 1;   // P_i: 0 < share <= kMaxShare
  int priority = 0;   // -kMaxPriority..kMaxPriority, higher first
  bool best_effort = false;  // SCHED_IDLE: runs only on CPU time no one else in the pool wants
  friend bool operator==(const PoolMembership&, const PoolMembership&) = default;
};

// Unknown fields, a bad pool name, a share or priority out of range are refused with the field named.
Result<PoolMembership> parse_pool_membership(const json::Json& j);
json::Json to_json(const PoolMembership& m);

}  // namespace vessel::daemon
