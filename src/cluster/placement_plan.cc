#include "cluster/placement_plan.h"

#include <map>

namespace vessel::cluster {

namespace {
const NodeStatus* find_node(const std::vector<NodeStatus>& nodes, const std::string& name) {
  for (const auto& n : nodes)
    if (n.info.name == name) return &n;
  return nullptr;
}

placement::Request request_of(const InstanceRecord& r) {
  placement::Request q;
  q.name = r.name;
  q.cpus = r.cpus;
  q.memory_mib = r.memory_mib;
  return q;
}
}  // namespace

bool needs_node(const InstanceRecord& record, const std::vector<NodeStatus>& nodes) {
  if (record.node.empty()) return true;
  const NodeStatus* node = find_node(nodes, record.node);
  return record.failover && (!node || !node->ready);
}

PlacementPlan plan_placements(const std::vector<NodeStatus>& nodes, const std::vector<InstanceRecord>& records,
                              placement::Policy policy) {
  placement::Scheduler scheduler(policy);
  std::map<std::string, size_t> index;
  for (const auto& n : nodes) {
    placement::Node node;
    node.name = n.info.name;
    node.cpus = n.info.cpus;
    node.memory_mib = n.info.memory_mib;
    node.labels = n.info.labels;
    node.ready = n.ready;
    node.cordoned = n.cordoned;
    index[node.name] = scheduler.add_node(node);
  }
  PlacementPlan plan;
  std::vector<size_t> pending;
  for (size_t i = 0; i < records.size(); ++i) {
    if (needs_node(records[i], nodes)) {
      pending.push_back(i);
      continue;
    }
    // What already runs (or is assigned) on a node counts as its load.
    if (auto it = index.find(records[i].node); it != index.end()) scheduler.commit(it->second, request_of(records[i]));
  }
  for (size_t i : pending) {
    auto chosen = scheduler.place(request_of(records[i]));
    if (chosen) plan.moves.push_back({i, scheduler.node(*chosen).name});
    else plan.unplaced.push_back({i, chosen.error()});
  }
  return plan;
}

}  // namespace vessel::cluster
