// A vesseld in the cluster (docs/cluster.md#membership): it writes its record, holds a lease with
// a TTL and keeps it alive from one thread; its readiness key lives on that lease, so a node that
// dies (or cannot reach etcd) is not ready within a TTL. Any member lists the nodes, inspects one,
// cordons and uncordons.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/node_record.h"

namespace vessel::cluster {

// How this node proves itself to another node's TLS API: the key pair of its own --listen
// identity, whose hashes its NodeInfo publishes (PEM files; empty without --listen).
struct PeerCredentials {
  std::string cert_file, key_file;
};

struct MembershipConfig {
  NodeInfo node;
  int64_t ttl_seconds = 5;
  PeerCredentials credentials;
};

class Membership {
 public:
  // Registers the node and starts keeping its lease alive. A live node of the same name is
  // waited for (its lease may be a killed predecessor's) at most a TTL and a second, then EEXIST.
  static Result<std::unique_ptr<Membership>> join(std::unique_ptr<etcd::Client> etcd, MembershipConfig config);
  // Stops the keeper and revokes the lease: the node leaves at once (its record stays).
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  const std::string& name() const { return config_.node.name; }
  const NodeInfo& self() const { return config_.node; }
  const PeerCredentials& credentials() const { return config_.credentials; }
  const etcd::Client& etcd() const { return *etcd_; }
  int64_t ttl_seconds() const { return config_.ttl_seconds; }
  // The node's lease now (it changes when a lost lease is replaced); elections live on it.
  int64_t lease() const { return lease_.load(); }
  // Until when etcd cannot have expired the lease: the send time of the last renewal etcd
  // answered (or of the grant) plus the TTL. Self-fencing (daemon/cluster_fence.h) acts before it.
  std::chrono::steady_clock::time_point lease_safe_until() const {
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(renewed_at_.load())) +
           std::chrono::seconds(config_.ttl_seconds);
  }

  // Every node that ever joined, ready or not, by name.
  Result<std::vector<NodeStatus>> nodes() const;
  Result<NodeStatus> node(const std::string& name) const;
  // Cordoned nodes get no new placements; what runs there stays.
  Result<NodeStatus> set_cordoned(const std::string& name, bool cordoned) const;

 private:
  Membership(std::unique_ptr<etcd::Client> etcd, MembershipConfig config)
      : etcd_(std::move(etcd)), config_(std::move(config)) {}
  // Grants a lease and creates the alive key on it; EEXIST while another holds the name.
  Result<void> register_alive();
  void keep_alive();

  std::unique_ptr<etcd::Client> etcd_;
  MembershipConfig config_;
  std::atomic<int64_t> lease_{0};        // written by the keeper thread once joined
  std::atomic<int64_t> renewed_at_{0};   // steady_clock ticks: see lease_safe_until()
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread keeper_;
};

}  // namespace vessel::cluster
