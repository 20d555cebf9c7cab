#include "cluster/placement/filters.h"

#include <algorithm>

namespace vessel::cluster::placement {

std::string_view to_string(Rejection r) {
  switch (r) {
    case Rejection::NotReady: return "not ready";
    case Rejection::Cordoned: return "cordoned";
    case Rejection::Cpus: return "short of CPUs";
    case Rejection::Memory: return "short of memory";
    case Rejection::Labels: return "without the labels";
    case Rejection::Affinity: return "not running the affinity groups";
    case Rejection::AntiAffinity: return "running an anti-affinity group";
  }
  return "?";
}

uint32_t Scheduler::NodeState::group_count(uint32_t group) const {
  for (const auto& [g, n] : groups)
    if (g == group) return n;
  return 0;
}

// Cheapest tests first: most nodes are turned away (or taken) on two comparisons.
std::optional<Rejection> reject(const Scheduler::NodeState& node, const Scheduler::Compiled& r) {
  if (!node.spec.ready) return Rejection::NotReady;
  if (node.spec.cordoned) return Rejection::Cordoned;
  // A small tolerance: 0.1 + 0.2 CPUs fit in 0.3.
  if (node.load.cpus + r.cpus > node.spec.cpus + 1e-9) return Rejection::Cpus;
  if (node.load.memory_mib + r.memory_mib > node.spec.memory_mib) return Rejection::Memory;
  for (uint32_t label : r.selector)
    if (!std::binary_search(node.labels.begin(), node.labels.end(), label)) return Rejection::Labels;
  for (uint32_t label : r.excluded)
    if (std::binary_search(node.labels.begin(), node.labels.end(), label)) return Rejection::Labels;
  if (!r.affinity_waived)
    for (uint32_t g : r.affinity)
      if (node.group_count(g) == 0) return Rejection::Affinity;
  for (uint32_t g : r.anti_affinity)
    if (node.group_count(g) > 0) return Rejection::AntiAffinity;
  return std::nullopt;
}

double score(Policy policy, const Scheduler::NodeState& node, const Scheduler::Compiled& r, double total_weight,
             uint64_t placed) {
  if (policy == Policy::Proportional) {
    // How far the node is below its share A_i = P_i / sum(P) x V once this one is placed.
    double share = total_weight > 0 ? node.weight / total_weight * static_cast<double>(placed + 1) : 0;
    return share - node.load.instances;
  }
  double cpu = node.spec.cpus > 0 ? (node.load.cpus + r.cpus) / node.spec.cpus : 1;
  double memory = node.spec.memory_mib > 0
                      ? static_cast<double>(node.load.memory_mib + r.memory_mib) / static_cast<double>(node.spec.memory_mib)
                      : 1;
  double fuller = std::max(cpu, memory);
  return policy == Policy::Binpack ? fuller : 1 - fuller;
}

}  // namespace vessel::cluster::placement
