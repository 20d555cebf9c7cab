#include "cluster/cluster_scheduler.h"

#include "base/log.h"
#include "cluster/node_record.h"
#include "cluster/placement_plan.h"

namespace vessel::cluster {

using namespace std::chrono_literals;

ClusterScheduler::ClusterScheduler(const Membership& member, placement::Policy policy, std::chrono::milliseconds period)
    : member_(member), desired_(member.etcd()), policy_(policy), period_(period) {
  thread_ = std::thread([this] { run(); });
}

ClusterScheduler::~ClusterScheduler() {
  stop_.stop();
  if (thread_.joinable()) thread_.join();
}

void ClusterScheduler::run() {
  auto cancelled = [this] { return stopping(); };
  while (!stopping()) {
    // Campaigns block until this node leads; bounded so that a replaced lease is picked up.
    auto key = member_.etcd().campaign(kSchedulerElection, member_.lease(), member_.name(), 5s, cancelled);
    if (!key) {
      if (key.error().errnum() != ETIMEDOUT && key.error().errnum() != ECANCELED) {
        log::warn("cluster: scheduler election: {}", key.error().to_string());
        stop_.wait_for(1s);
      }
      continue;
    }
    log::info("cluster: node {} is the scheduler", member_.name());
    leading_ = true;
    lead(*key);
    leading_ = false;
    if (stopping()) {
      (void)member_.etcd().resign(*key);
      break;
    }
    log::info("cluster: node {} is not the scheduler any more", member_.name());
  }
}

void ClusterScheduler::lead(const etcd::LeaderKey& key) {
  while (!stopping()) {
    auto leader = member_.etcd().leader(kSchedulerElection);
    if (leader && (!*leader || (*leader)->key != key.key)) return;  // deposed: its lease went
    if (leader) {
      if (auto placed = schedule_once(key); !placed) log::warn("cluster: scheduling: {}", placed.error().to_string());
    }
    stop_.wait_for(period_);
  }
}

namespace {
bool has_lease(const std::vector<NodeStatus>& nodes, const std::string& name) {
  for (const auto& n : nodes)
    if (n.info.name == name) return n.lease != 0;
  return false;
}
}  // namespace

Result<size_t> ClusterScheduler::schedule_once(const etcd::LeaderKey& key) {
  auto nodes = TRY(member_.nodes());
  auto list = TRY(desired_.list());
  PlacementPlan plan = plan_placements(nodes, list.records, policy_);
  // Only while the leadership key is the one won: a deposed leader's writes fail.
  etcd::Compare leading{key.key, etcd::Compare::Target::Create, etcd::Compare::Result::Equal, key.rev, {}};
  size_t placed = 0;
  for (const auto& move : plan.moves) {
    const InstanceRecord& record = list.records[move.record];
    std::vector<etcd::Compare> guards{leading};
    // An orphan moves only while its node is still dead: one that registered again since the
    // read may already have started its copy again (the record still named it).
    if (!record.node.empty() && !has_lease(nodes, record.node))
      guards.push_back(etcd::Compare::absent(kAlivePrefix + record.node));
    auto done = TRY(desired_.place(record, move.node, guards));
    if (!done) continue;  // changed meanwhile: the next pass sees it again
    ++placed;
    if (record.node.empty())
      log::info("cluster: placed {} on {} (generation {})", record.name, move.node, done->generation);
    else
      log::info("cluster: {} moved from {} (not ready) to {} (generation {})", record.name, record.node, move.node,
                done->generation);
  }
  for (const auto& u : plan.unplaced)
    log::warn("cluster: cannot place {}: {}", list.records[u.record].name, u.why.to_string());
  return placed;
}

}  // namespace vessel::cluster
