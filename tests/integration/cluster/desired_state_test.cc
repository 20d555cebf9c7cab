// The clustered instances' desired state (src/cluster/desired_state.h) and the elected scheduler
// (src/cluster/cluster_scheduler.h) against a real etcd: every change is a compare-and-swap, one
// scheduler at a time places new and orphaned instances, and a deposed leader's writes fail.
#include "cluster/desired_state.h"

#include <gtest/gtest.h>

#include <thread>

#include "cluster/cluster_scheduler.h"
#include "etcd_server.h"

namespace vessel::cluster {
namespace {

using namespace std::chrono_literals;

class DesiredStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(server_.start(&error)) << error;
    etcd_ = std::move(*etcd::Client::create(etcd::ClientConfig{{server_.url()}, 1500ms}));
  }
  std::unique_ptr<Membership> join(const std::string& name) {
    MembershipConfig config;
    config.node.name = name;
    config.node.cpus = 4;
    config.node.memory_mib = 8192;
    config.ttl_seconds = 2;
    auto m = Membership::join(std::move(*etcd::Client::create(etcd::ClientConfig{{server_.url()}, 1500ms})), config);
    EXPECT_TRUE(m) << m.error().to_string();
    return m ? std::move(*m) : nullptr;
  }
  static InstanceRecord web(bool failover = true) {
    InstanceRecord r;
    r.name = "web";
    r.spec = {{"name", "web"}};
    r.failover = failover;
    r.cpus = 1;
    r.memory_mib = 256;
    return r;
  }
  // The record once the scheduler has placed it (at most 5 s).
  std::optional<InstanceRecord> placed(const DesiredState& d, const std::string& except = "") {
    for (int i = 0; i < 100; ++i) {
      auto r = d.get("web");
      if (r && *r && !(*r)->node.empty() && (*r)->node != except) return **r;
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  }
  test::EtcdServer server_;
  std::unique_ptr<etcd::Client> etcd_;
};

TEST_F(DesiredStateTest, EveryChangeIsACompareAndSwap) {
  DesiredState d(*etcd_);
  auto created = d.create(web());
  ASSERT_TRUE(created) << created.error().to_string();
  EXPECT_EQ(created->generation, 0);
  EXPECT_GT(created->revision, 0);
  auto again = d.create(web());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errnum(), EEXIST);

  auto moved = d.place(*created, "node-a");
  ASSERT_TRUE(moved && *moved);
  EXPECT_EQ((*moved)->generation, 1);
  EXPECT_EQ((*moved)->node, "node-a");
  // A writer that read before that move loses: nothing changes.
  auto stale = d.place(*created, "node-b");
  ASSERT_TRUE(stale);
  EXPECT_FALSE(*stale);
  EXPECT_EQ((*d.get("web"))->node, "node-a");
  // A guard that does not hold (a leadership key that is not there) stops the write too.
  auto unguarded = d.place(**moved, "node-b", {etcd::Compare{"vessel/none", etcd::Compare::Target::Create,
                                                             etcd::Compare::Result::Equal, 5, {}}});
  ASSERT_TRUE(unguarded);
  EXPECT_FALSE(*unguarded);

  auto list = d.list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->records.size(), 1u);
  EXPECT_GE(list->revision, (*moved)->revision);
  auto removed_stale = d.remove(*created);
  ASSERT_FALSE(removed_stale);
  EXPECT_EQ(removed_stale.error().errnum(), ESTALE);
  ASSERT_TRUE(d.remove(**moved));
  EXPECT_FALSE(*d.get("web"));
  // Another node's bad record is skipped, not fatal.
  ASSERT_TRUE(etcd_->put(std::string(kInstancesPrefix) + "bad", "{nope"));
  ASSERT_TRUE(d.list());
  EXPECT_TRUE(d.list()->records.empty());
}

TEST_F(DesiredStateTest, OneSchedulerPlacesAndAnotherTakesOverWhenItsNodeDies) {
  auto a = join("node-a");
  auto b = join("node-b");
  ASSERT_TRUE(a && b);
  auto sa = std::make_unique<ClusterScheduler>(*a, placement::Policy::Spread);
  std::this_thread::sleep_for(500ms);
  auto sb = std::make_unique<ClusterScheduler>(*b, placement::Policy::Spread);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(sa->leading());
  EXPECT_FALSE(sb->leading()) << "one scheduler at a time";

  DesiredState d(*etcd_);
  ASSERT_TRUE(d.create(web()));
  auto first = placed(d);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->generation, 1);
  // The node running it (and perhaps leading) leaves: its lease goes; the other places it again.
  std::string dead = first->node;
  if (dead == "node-a") sa.reset(), a.reset();
  else sb.reset(), b.reset();
  auto second = placed(d, dead);
  ASSERT_TRUE(second) << "not moved off " << dead;
  EXPECT_EQ(second->generation, 2);
  EXPECT_TRUE((sa ? sa : sb)->leading());
}

TEST_F(DesiredStateTest, AnInstanceWithoutFailoverStaysOnItsDeadNode) {
  auto a = join("node-a");
  auto b = join("node-b");
  ASSERT_TRUE(a && b);
  DesiredState d(*etcd_);
  auto created = d.create(web(false));
  ASSERT_TRUE(created);
  ASSERT_TRUE(d.place(*created, "node-a"));
  a.reset();  // node-a leaves; web's restart policy is "no"
  ClusterScheduler s(*b, placement::Policy::Spread);
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(s.leading());
  auto now = d.get("web");
  ASSERT_TRUE(now && *now);
  EXPECT_EQ((*now)->node, "node-a");
  EXPECT_EQ((*now)->generation, 1);
}

}  // namespace
}  // namespace vessel::cluster
