#include "cluster/placement_plan.h"

#include <functional>
#include <map>

namespace vessel::cluster {

namespace {
const NodeStatus* find_node(const std::vector<NodeStatus>& nodes, const std::string& name) {
  for (const auto& n : nodes)
    if (n.info.name == name) return &n;
  return nullptr;
}

// Its labels are the groups others' affinity rules name; a record whose rules do not parse (a
// newer node's) is placed without them rather than not at all (the record parser checked them).
placement::Request request_of(const InstanceRecord& r) {
  placement::Request q;
  q.name = r.name;
  q.cpus = r.cpus;
  q.memory_mib = r.memory_mib;
  if (auto labels = r.spec.find("labels"); labels != r.spec.end() && labels->is_object())
    for (const auto& [k, v] : labels->items())
      if (v.is_string()) q.more_groups.push_back(k + "=" + v.get<std::string>());
  (void)apply_placement_rules(r.placement, q);
  return q;
}
}  // namespace

bool needs_node(const InstanceRecord& record, const std::vector<NodeStatus>& nodes) {
  if (record.node.empty()) return true;
  const NodeStatus* node = find_node(nodes, record.node);
  return record.failover && (!node || !node->ready);
}

namespace {
// A scheduler that knows the nodes, with each record's node charged for it except those `skip` says.
placement::Scheduler loaded_scheduler(const std::vector<NodeStatus>& nodes, const std::vector<InstanceRecord>& records,
                                      placement::Policy policy, const std::function<bool(size_t)>& skip) {
  placement::Scheduler scheduler(policy);
  std::map<std::string, size_t> index;
  for (const auto& n : nodes) {
    placement::Node node;
    node.name = n.info.name;
    node.cpus = n.info.cpus;
    node.memory_mib = n.info.memory_mib;
    node.labels = n.info.labels;
    node.labels[kHostnameLabel] = n.info.name;
    node.ready = n.ready;
    node.cordoned = n.cordoned;
    index[node.name] = scheduler.add_node(node);
  }
  // What already runs (or is assigned) on a node counts as its load.
  for (size_t i = 0; i < records.size(); ++i)
    if (!skip(i))
      if (auto it = index.find(records[i].node); it != index.end()) scheduler.commit(it->second, request_of(records[i]));
  return scheduler;
}
}  // namespace

PlacementPlan plan_placements(const std::vector<NodeStatus>& nodes, const std::vector<InstanceRecord>& records,
                              placement::Policy policy) {
  std::vector<size_t> pending;
  for (size_t i = 0; i < records.size(); ++i)
    if (needs_node(records[i], nodes)) pending.push_back(i);
  auto scheduler = loaded_scheduler(nodes, records, policy, [&](size_t i) { return needs_node(records[i], nodes); });
  PlacementPlan plan;
  for (size_t i : pending) {
    auto chosen = scheduler.place(request_of(records[i]));
    if (chosen) plan.moves.push_back({i, scheduler.node(*chosen).name});
    else plan.unplaced.push_back({i, chosen.error()});
  }
  return plan;
}

Result<std::string> plan_move(const std::vector<NodeStatus>& nodes, const std::vector<InstanceRecord>& records,
                              size_t which, placement::Policy policy) {
  std::vector<NodeStatus> others = nodes;
  for (auto& n : others)
    if (n.info.name == records[which].node) n.cordoned = true;  // anywhere but where it is
  auto scheduler = loaded_scheduler(others, records, policy, [&](size_t i) { return i == which; });
  size_t chosen = TRY(scheduler.choose(request_of(records[which])));
  return scheduler.node(chosen).name;
}

}  // namespace vessel::cluster
