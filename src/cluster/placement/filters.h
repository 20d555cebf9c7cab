// Placement's filters (placement.h): why a node cannot take a request, or nothing when it can.
#pragma once

#include <optional>
#include <string_view>

#include "cluster/placement/placement.h"

namespace vessel::cluster::placement {

enum class Rejection { NotReady, Cordoned, Cpus, Memory, Labels, Affinity, AntiAffinity };
inline constexpr size_t kRejections = 7;
std::string_view to_string(Rejection r);

std::optional<Rejection> reject(const Scheduler::NodeState& node, const Scheduler::Compiled& request);

// Higher is better (placement.h's policies). `total_weight` and `placed` are over the
// schedulable nodes: proportional's sum(P) and V.
double score(Policy policy, const Scheduler::NodeState& node, const Scheduler::Compiled& request,
             double total_weight, uint64_t placed);

}  // namespace vessel::cluster::placement
