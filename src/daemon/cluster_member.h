// vesseld's part in a cluster (docs/cluster.md): the --node/--cluster flags and joining.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cluster/membership.h"
#include "daemon/policy/capacity.h"

namespace vessel::daemon {

struct ClusterOptions {
  std::string node;       // --node NAME
  std::string endpoints;  // --cluster URL[,URL...]
  std::string advertise;  // --advertise ADDR (default: unix://SOCKET)
  std::string labels;     // --labels k=v,...
  int64_t lease_ttl = 5;  // --lease-ttl SECONDS
};

void add_cluster_flags(CLI::App& app, ClusterOptions& o);

// nullptr without --cluster; the node's membership (lease kept alive) with it.
Result<std::unique_ptr<cluster::Membership>> join_cluster(const ClusterOptions& o, const Capacity& capacity,
                                                          const std::string& socket);

}  // namespace vessel::daemon
