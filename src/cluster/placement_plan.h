// What the cluster's scheduler does in one pass, without I/O (so that unit tests see it): which
// instance records need a node and which node each gets, by the placement library's filters and
// its policy's score (placement/placement.h).
//
// A record needs a node when it has none yet (new), or when its node is not ready (the node's
// alive key is gone: its lease expired or was revoked) and its restart policy asks for failover.
// Instances on ready nodes count as those nodes' load.
#pragma once

#include <string>
#include <vector>

#include "cluster/instance_record.h"
#include "cluster/node_record.h"
#include "cluster/placement/placement.h"

namespace vessel::cluster {

struct PlannedMove {
  size_t record = 0;  // index into the records given
  std::string node;
};

struct Unplaceable {
  size_t record = 0;
  Error why;  // ENOSPC: how many nodes each filter turned away
};

struct PlacementPlan {
  std::vector<PlannedMove> moves;
  std::vector<Unplaceable> unplaced;
};

// True when the record needs a (new) node: see above.
bool needs_node(const InstanceRecord& record, const std::vector<NodeStatus>& nodes);

PlacementPlan plan_placements(const std::vector<NodeStatus>& nodes, const std::vector<InstanceRecord>& records,
                              placement::Policy policy);

// The node records[which] moves to (drain, migrate --to): any ready, uncordoned node but its own
// that passes its rules, by the policy, counting what the others' records put on each node.
// ENOSPC when none can take it.
Result<std::string> plan_move(const std::vector<NodeStatus>& nodes, const std::vector<InstanceRecord>& records,
                              size_t which, placement::Policy policy);

}  // namespace vessel::cluster
