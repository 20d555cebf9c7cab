#include "cluster/membership.h"

#include "base/log.h"

namespace vessel::cluster {

using namespace std::chrono_literals;

Result<std::unique_ptr<Membership>> Membership::join(std::unique_ptr<etcd::Client> etcd, MembershipConfig config) {
  TRY(check_node_name(config.node.name));
  if (config.ttl_seconds < 2 || config.ttl_seconds > 3600)
    return fail(EINVAL, "the lease TTL must be 2-3600 s, not {}", config.ttl_seconds);
  std::unique_ptr<Membership> m(new Membership(std::move(etcd), std::move(config)));
  const NodeInfo& node = m->config_.node;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(m->config_.ttl_seconds + 1);
  while (true) {
    auto registered = m->register_alive();
    if (registered) break;
    if (registered.error().errnum() != EEXIST || std::chrono::steady_clock::now() > deadline)
      return Unexpected(std::move(registered).error().add_context(fmt::format("join the cluster as {}", node.name)));
    std::this_thread::sleep_for(250ms);
  }
  m->keeper_ = std::thread([raw = m.get()] { raw->keep_alive(); });
  return m;
}

Membership::~Membership() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (keeper_.joinable()) keeper_.join();
  if (lease_ != 0) {
    if (auto r = etcd_->revoke(lease_); !r) log::warn("cluster: revoke lease on leaving: {}", r.error().to_string());
  }
}

Result<void> Membership::register_alive() {
  auto sent = std::chrono::steady_clock::now();
  auto lease = TRY(etcd_->grant(config_.ttl_seconds));
  std::string key = kAlivePrefix + config_.node.name;
  json::Json alive = {{"ready", true}, {"lease", std::to_string(lease.id)}};
  // The record and the alive key together, and only while no live node has the name: a second
  // vesseld of the same name changes nothing.
  etcd::Txn create{{etcd::Compare::absent(key)},
                   {etcd::Operation::put(key, json::dump(alive), lease.id),
                    etcd::Operation::put(kNodesPrefix + config_.node.name, json::dump(node_info_json(config_.node)))},
                   {}};
  auto done = etcd_->txn(create);
  if (!done || !done->succeeded) {
    (void)etcd_->revoke(lease.id);
    if (!done) return Unexpected(std::move(done).error());
    return Unexpected(Error(EEXIST, fmt::format("a live node named {} is already in the cluster", config_.node.name))
                          .with_hint("give this vesseld another --node name, or stop the other one"));
  }
  lease_ = lease.id;
  renewed_at_ = sent.time_since_epoch().count();
  return {};
}

// Renews the lease three times per TTL (four times a second while renewals fail); a lease found
// gone (etcd unreachable for longer than the TTL) is replaced by a new one and the node registers
// again.
void Membership::keep_alive() {
  auto period = std::chrono::milliseconds(config_.ttl_seconds * 1000 / 3);
  bool failing = false;
  std::unique_lock lock(mutex_);
  // After a failed renewal the next comes sooner: one slow answer must not cost the lease (and
  // fence the node's instances, daemon/cluster_fence.h).
  while (!wake_.wait_for(lock, failing ? std::min<std::chrono::milliseconds>(period, 250ms) : period,
                         [this] { return stopping_; })) {
    lock.unlock();
    auto sent = std::chrono::steady_clock::now();
    auto kept = etcd_->keepalive(lease_);
    if (kept && kept->ttl > 0) renewed_at_ = sent.time_since_epoch().count();
    if (!kept) {
      // Once per outage, not every renewal.
      if (!failing) log::warn("cluster: renew the lease of node {}: {}", config_.node.name, kept.error().to_string());
      failing = true;
    } else if (failing) {
      failing = false;
      log::info("cluster: node {} reaches etcd again", config_.node.name);
    }
    if (kept && kept->ttl == 0) {
      log::warn("cluster: node {} lost its lease (etcd was out of reach longer than {} s): joining again",
                config_.node.name, config_.ttl_seconds);
      if (auto r = register_alive(); !r) log::warn("cluster: join again: {}", r.error().to_string());
      else log::info("cluster: node {} is ready again", config_.node.name);
    }
    lock.lock();
  }
}

Result<std::vector<NodeStatus>> Membership::nodes() const {
  // One transaction: the three prefixes at one revision.
  auto range = [](const char* prefix) {
    etcd::Operation op = etcd::Operation::get(prefix);
    op.range_end = etcd::prefix_end(prefix);
    return op;
  };
  auto t = TRY_CTX(etcd_->txn(etcd::Txn{{}, {range(kNodesPrefix), range(kAlivePrefix), range(kCordonedPrefix)}, {}}),
                   "list the cluster's nodes");
  if (t.responses.size() != 3) return fail(EPROTO, "etcd answered {} ranges for 3", t.responses.size());
  std::map<std::string, NodeStatus> by_name;
  for (const auto& kv : t.responses[0].range.kvs) {
    auto info = parse_node_info(kv.value);
    if (!info) {
      log::warn("cluster: skipping the bad node record {}: {}", kv.key, info.error().to_string());
      continue;
    }
    by_name[kv.key.substr(std::string_view(kNodesPrefix).size())].info = std::move(*info);
  }
  for (const auto& kv : t.responses[1].range.kvs) {
    auto it = by_name.find(kv.key.substr(std::string_view(kAlivePrefix).size()));
    if (it == by_name.end()) continue;
    auto alive = json::parse(kv.value);
    it->second.ready = alive && alive->is_object() && alive->value("ready", false);
    it->second.lease = kv.lease;
  }
  for (const auto& kv : t.responses[2].range.kvs) {
    auto it = by_name.find(kv.key.substr(std::string_view(kCordonedPrefix).size()));
    if (it != by_name.end()) it->second.cordoned = true;
  }
  std::vector<NodeStatus> out;
  for (auto& [name, status] : by_name) out.push_back(std::move(status));
  return out;
}

Result<NodeStatus> Membership::node(const std::string& name) const {
  for (auto& n : TRY(nodes()))
    if (n.info.name == name) return std::move(n);
  return Unexpected(Error(ENOENT, fmt::format("no node named {} in the cluster", name)).with_hint("vessel cluster ls lists them"));
}

Result<NodeStatus> Membership::set_cordoned(const std::string& name, bool cordoned) const {
  TRY(node(name));
  if (cordoned) TRY_CTX(etcd_->put(kCordonedPrefix + name, "{}"), "cordon {}", name);
  else TRY_CTX(etcd_->remove(kCordonedPrefix + name), "uncordon {}", name);
  return node(name);
}

}  // namespace vessel::cluster
