// vesseld's part in a cluster (docs/cluster.md): the --node/--cluster flags and joining.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cluster/cluster_scheduler.h"
#include "cluster/membership.h"
#include "daemon/api/cluster_peers.h"
#include "daemon/cluster_fence.h"
#include "daemon/cluster_reconciler.h"
#include "daemon/instances/manager.h"
#include "daemon/policy/capacity.h"

namespace vessel::daemon {

struct ClusterOptions {
  std::string node;       // --node NAME
  std::string endpoints;  // --cluster URL[,URL...]
  std::string advertise;  // --advertise ADDR (default: unix://SOCKET)
  std::string labels;     // --labels k=v,...
  int64_t lease_ttl = 5;  // --lease-ttl SECONDS
  std::string placement = "spread";  // --placement POLICY (when this node is the scheduler)
  std::string watchdog;  // vessel-watchdog's path (found by vesseld beside itself)
  std::string backups;                // --cluster-backups DIR (docs/cluster.md#storage)
  int64_t backup_every = 60;          // --cluster-backup-every SECONDS
  // Set by vesseld when it serves --listen: its TLS identity (STATE/tls/server.{crt,key}), which
  // the node publishes and shows other nodes' TLS APIs (docs/cluster.md#forwarding).
  std::string tls_dir;
  std::string tls_pubkey_sha256, tls_cert_sha256;
};

// A node's running parts in the cluster, stopped in reverse order: a last backup of the copies
// whose storage is backup (a clean stop loses nothing), the reconciler, the fence
// (which first kills the clustered copies: leaving revokes the lease and they will move), the
// scheduler (a leader resigns), the membership (the lease is revoked).
struct ClusterNode {
  std::unique_ptr<cluster::Membership> member;
  std::unique_ptr<cluster::ClusterScheduler> scheduler;
  std::unique_ptr<ClusterFence> fence;
  std::unique_ptr<ClusterBackups> backups;  // with --cluster-backups
  std::unique_ptr<ClusterReconciler> reconciler;
  std::unique_ptr<ClusterPeers> peers;  // the other nodes' TLS certificates, admitted by --listen
  ~ClusterNode();
};

void add_cluster_flags(CLI::App& app, ClusterOptions& o);

// nullptr without --cluster; with it, the node joined (lease kept alive), its scheduler
// campaigning, its fence and reconciler running clustered instances through `manager`.
Result<std::unique_ptr<ClusterNode>> join_cluster(const ClusterOptions& o, const Capacity& capacity,
                                                  const std::string& socket, Manager& manager,
                                                  ImageStore& images);

}  // namespace vessel::daemon
