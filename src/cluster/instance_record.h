// A clustered instance's desired state as etcd keeps it (docs/cluster.md#desired-state):
//
//   /vessel/instances/NAME  {"spec": {...}, "node": "node-2", "generation": 3, "failover": true,
//                            "cpus": 1, "memory_mib": 256, "stopped": false,
//                            "placement": {"constraints": [...], "affinity": [...], "anti_affinity": [...]},
//                            "storage": "backup"}
//
// The spec is vesseld's (POST /v1/instances) and opaque here; `node` is where it runs ("" while
// unplaced), `generation` counts its placements: every move bumps it, and a node runs a copy only
// while the record names it with the generation that copy was made for. `stopped` is the user's
// (vessel stop/start): its node keeps it stopped whatever its restart policy. `placement` is where it
// may run (placement_rules.h). Every change is a
// compare-and-swap on the key's mod revision (desired_state.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/json.h"
#include "cluster/placement_rules.h"

namespace vessel::cluster {

inline constexpr const char* kInstancesPrefix = "/vessel/instances/";

struct InstanceRecord {
  std::string name;
  json::Json spec = json::Json::object();
  std::string node;         // "": not placed yet
  int64_t generation = 0;   // 0 while unplaced; +1 at every placement
  bool failover = false;    // its restart policy asks for it: placed elsewhere when its node dies
  double cpus = 0;          // what placement counts on the node
  uint64_t memory_mib = 0;
  bool stopped = false;     // desired stopped (vessel stop): not started again until vessel start
  std::optional<uint32_t> stop_timeout_s;  // that stop's graceful period (vessel stop -t; 0: --force)
  // When vessel start last asked for it to run (unix seconds; 0: never). A copy that ended in an
  // earlier second is started whatever its restart policy, as docker start would.
  int64_t started_at = 0;
  std::string moving_to;    // a live migration to this node is under way: both nodes leave the copy alone
  PlacementRules placement;
  // What a new node starts it with (docs/cluster.md#storage): "" (local: empty volumes, a fresh
  // root filesystem) or "backup" (the owner's last backup in vesseld --cluster-backups, imported first).
  std::string storage;
  int64_t revision = 0;     // the key's mod revision when read (0: not stored yet)
};

json::Json instance_record_json(const InstanceRecord& record);
// The value of /vessel/instances/NAME (written by any node: checked, EPROTO/EINVAL when bad).
Result<InstanceRecord> parse_instance_record(std::string_view text);

}  // namespace vessel::cluster
