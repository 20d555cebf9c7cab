// Where a clustered instance may run (docs/cluster.md#placement-rules), as `vessel run
// --cluster-wide` takes it and its record keeps it:
//   constraints    Docker Swarm's: node.labels.KEY==VALUE, node.labels.KEY!=VALUE,
//                  node.hostname==NODE, node.hostname!=NODE
//   affinity       KEY=VALUE: the node already runs an instance labelled so (vessel run --label)
//   anti_affinity  KEY=VALUE: the node runs no instance labelled so
// They become the placement library's selector, exclusions and groups (placement/placement.h):
// an instance's labels are its groups, and a node's name is its label node.hostname.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "cluster/placement/placement.h"

namespace vessel::cluster {

// The label every node carries for itself in placement: node.hostname==NAME selects it.
inline constexpr const char* kHostnameLabel = "node.hostname";

struct PlacementRules {
  std::vector<std::string> constraints;
  std::vector<std::string> affinity;
  std::vector<std::string> anti_affinity;
  bool empty() const { return constraints.empty() && affinity.empty() && anti_affinity.empty(); }
};

// {"constraints": [...], "affinity": [...], "anti_affinity": [...]}, each checked (EINVAL with a hint).
Result<PlacementRules> parse_placement_rules(const json::Json& j);
json::Json placement_rules_json(const PlacementRules& rules);

// Adds the rules to a request: constraints to its selector or exclusions, affinities as groups.
Result<void> apply_placement_rules(const PlacementRules& rules, placement::Request& request);

}  // namespace vessel::cluster
