// The placement simulator (vessel cluster simulate, docs/cluster.md#simulator): a synthetic
// cluster of heterogeneous nodes and a stream of instances placed one by one by the Scheduler
// (placement.h) itself, timed. Deterministic for a seed.
//
// Nodes: 8, 16, 32 or 64 CPUs with 4 GiB per CPU, labels zone=z0..z3 and disk=ssd on every other;
// 1 % cordoned, 1 % not ready. Instances: 0.25-2 CPUs, 256 MiB-4 GiB; one in 10 selects zone=z1,
// one in 20 avoids its own group (anti-affinity), one in 50 wants the next group beside it
// (affinity); 500 groups.
#pragma once

#include <cstdint>

#include "base/json.h"
#include "cluster/placement/placement.h"

namespace vessel::cluster::placement {

struct SimulationConfig {
  uint32_t nodes = 5000;
  uint32_t instances = 50000;
  Policy policy = Policy::Spread;
  uint64_t seed = 1;
};

struct SimulationReport {
  SimulationConfig config;
  uint64_t placed = 0;
  uint64_t unplaced = 0;         // no node could take them (ENOSPC)
  double seconds = 0;            // placing only (building the cluster is not timed)
  double placements_per_second = 0;
  uint32_t nodes_used = 0;       // nodes with at least one instance
  double cpu_used_mean = 0;      // fraction of CPUs used, over schedulable nodes
  double cpu_used_stddev = 0;
  double cpu_used_max = 0;
  // proportional: the largest |n_i - A_i| over schedulable nodes, in instances
  double largest_share_error = 0;
};

SimulationReport simulate(const SimulationConfig& config);
json::Json report_json(const SimulationReport& report);

}  // namespace vessel::cluster::placement
