// The scheduler's pass without etcd (src/cluster/placement_plan.h) and the instance records it
// reads (src/cluster/instance_record.h).
#include "cluster/placement_plan.h"

#include <gtest/gtest.h>

namespace vessel::cluster {
namespace {

NodeStatus node(const std::string& name, bool ready, bool cordoned = false) {
  NodeStatus s;
  s.info.name = name;
  s.info.cpus = 4;
  s.info.memory_mib = 4096;
  s.ready = ready;
  s.cordoned = cordoned;
  return s;
}

InstanceRecord record(const std::string& name, const std::string& on, bool failover) {
  InstanceRecord r;
  r.name = name;
  r.node = on;
  r.generation = on.empty() ? 0 : 1;
  r.failover = failover;
  r.cpus = 1;
  r.memory_mib = 512;
  return r;
}

TEST(PlacementPlan, NewInstancesGoToTheLeastLoadedReadyUncordonedNode) {
  std::vector<NodeStatus> nodes{node("a", true), node("b", true), node("c", true, true), node("d", false)};
  std::vector<InstanceRecord> records{record("x", "a", false), record("y", "", false)};
  auto plan = plan_placements(nodes, records, placement::Policy::Spread);
  ASSERT_EQ(plan.moves.size(), 1u);
  EXPECT_EQ(plan.moves[0].record, 1u);
  EXPECT_EQ(plan.moves[0].node, "b") << "a carries x; c is cordoned; d is not ready";
}

TEST(PlacementPlan, OrphansMoveOnlyWhenTheirRestartPolicyAsks) {
  std::vector<NodeStatus> nodes{node("a", false), node("b", true)};
  std::vector<InstanceRecord> records{record("keep", "a", false), record("move", "a", true), record("gone", "z", true)};
  EXPECT_FALSE(needs_node(records[0], nodes));
  EXPECT_TRUE(needs_node(records[1], nodes));
  EXPECT_TRUE(needs_node(records[2], nodes)) << "a node nobody knows is not ready";
  auto plan = plan_placements(nodes, records, placement::Policy::Spread);
  ASSERT_EQ(plan.moves.size(), 2u);
  EXPECT_EQ(plan.moves[0].node, "b");
  EXPECT_EQ(plan.moves[1].node, "b");
  // A cordoned node keeps what runs there: cordoning is not death.
  nodes[0] = node("a", true, true);
  EXPECT_TRUE(plan_placements(nodes, records, placement::Policy::Spread).moves.size() == 1);
}

TEST(PlacementPlan, NoRoomIsSaidPerInstance) {
  std::vector<NodeStatus> nodes{node("a", false)};
  auto plan = plan_placements(nodes, {record("x", "", true)}, placement::Policy::Binpack);
  EXPECT_TRUE(plan.moves.empty());
  ASSERT_EQ(plan.unplaced.size(), 1u);
  EXPECT_EQ(plan.unplaced[0].why.errnum(), ENOSPC);
}

TEST(InstanceRecord, RoundTripAndBadRecords) {
  InstanceRecord r = record("web", "node-2", true);
  r.generation = 7;
  r.spec = {{"name", "web"}, {"restart", "always"}};
  auto back = parse_instance_record(json::dump(instance_record_json(r)));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->node, "node-2");
  EXPECT_EQ(back->generation, 7);
  EXPECT_TRUE(back->failover);
  EXPECT_EQ(back->spec.value("restart", ""), "always");
  for (const char* bad : {"", "[]", R"({"spec":{}})", R"({"name":"","spec":{}})", R"({"name":"a"})",
                          R"({"name":"a","spec":[]})", R"({"name":"a","spec":{},"node":"Bad_Node"})",
                          R"({"name":"a","spec":{},"generation":-1})", R"({"name":"a","spec":{},"cpus":"x"})",
                          R"({"name":"a","spec":{},"generation":99999999999999999999})"})
    EXPECT_FALSE(parse_instance_record(bad)) << bad;
}

}  // namespace
}  // namespace vessel::cluster
