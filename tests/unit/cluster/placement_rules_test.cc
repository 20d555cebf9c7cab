// Placement rules (src/cluster/placement_rules.h) as records keep them and the scheduler's pass
// applies them (placement_plan.h): constraints on node labels and names, affinity by labels, moves.
#include "cluster/placement_plan.h"
#include "cluster/placement_rules.h"

#include <gtest/gtest.h>

namespace vessel::cluster {
namespace {

NodeStatus labelled(const std::string& name, std::map<std::string, std::string> labels, bool cordoned = false) {
  NodeStatus s;
  s.info.name = name;
  s.info.cpus = 4;
  s.info.memory_mib = 4096;
  s.info.labels = std::move(labels);
  s.ready = true;
  s.cordoned = cordoned;
  return s;
}

InstanceRecord instance(const std::string& name, const std::string& on, PlacementRules rules = {},
                        std::map<std::string, std::string> labels = {}) {
  InstanceRecord r;
  r.name = name;
  r.node = on;
  r.generation = on.empty() ? 0 : 1;
  r.cpus = 1;
  r.memory_mib = 256;
  r.placement = std::move(rules);
  if (!labels.empty()) r.spec["labels"] = labels;
  return r;
}

TEST(PlacementRules, SwarmConstraintsBecomeSelectorsAndExclusions) {
  PlacementRules rules{{"node.labels.zone==a", "node.labels.disk!=hdd", "node.hostname!=n1"}, {"app=db"}, {"app=web"}};
  placement::Request q;
  ASSERT_TRUE(apply_placement_rules(rules, q));
  EXPECT_EQ(q.selector, (std::map<std::string, std::string>{{"zone", "a"}}));
  EXPECT_EQ(q.excluded, (std::map<std::string, std::string>{{"disk", "hdd"}, {kHostnameLabel, "n1"}}));
  EXPECT_EQ(q.affinity, std::vector<std::string>{"app=db"});
  EXPECT_EQ(q.anti_affinity, std::vector<std::string>{"app=web"});
}

TEST(PlacementRules, BadRulesAreRefusedSayingWhatIsExpected) {
  for (const char* bad : {"zone==a", "node.labels.==a", "node.labels.zone=a", "node.hostname==Bad_Name",
                          "node.labels.zone==a,b", "node.labels.zone==a b", ""}) {
    placement::Request q;
    auto r = apply_placement_rules(PlacementRules{{bad}, {}, {}}, q);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().errnum(), EINVAL);
    EXPECT_NE(r.error().hint().find("node.labels.KEY==VALUE"), std::string::npos) << bad;
  }
  placement::Request q;
  EXPECT_FALSE(apply_placement_rules(PlacementRules{{"node.labels.zone==a", "node.labels.zone==b"}, {}, {}}, q));
  EXPECT_FALSE(apply_placement_rules(PlacementRules{{}, {"app"}, {}}, q));
  EXPECT_FALSE(apply_placement_rules(PlacementRules{{}, {}, {"a=b,c=d"}}, q));
  EXPECT_FALSE(parse_placement_rules(json::Json{{"constraint", json::Json::array()}}));
  EXPECT_FALSE(parse_placement_rules(json::Json{{"affinity", "app=db"}}));
  EXPECT_TRUE(parse_placement_rules(json::Json()));
}

TEST(PlacementRules, RecordsKeepRulesAndTheStoppedStateThroughJson) {
  auto r = instance("web", "n2", PlacementRules{{"node.labels.zone==a"}, {"app=db"}, {}});
  r.stopped = true;
  r.moving_to = "n3";
  r.stop_timeout_s = 0;
  r.storage = "backup";
  r.started_at = 1796000000;
  auto again = parse_instance_record(json::dump(instance_record_json(r)));
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_TRUE(again->stopped);
  EXPECT_EQ(again->moving_to, "n3");
  EXPECT_EQ(again->stop_timeout_s, std::optional<uint32_t>(0)) << "--force: no grace period";
  EXPECT_EQ(again->started_at, 1796000000) << "when vessel start asked (a restarted node still knows)";
  EXPECT_EQ(parse_instance_record(R"({"name":"x","spec":{}})")->started_at, 0);
  EXPECT_FALSE(parse_instance_record(R"({"name":"x","spec":{},"started_at":-1})"));
  EXPECT_EQ(again->placement.constraints, r.placement.constraints);
  EXPECT_EQ(again->placement.affinity, r.placement.affinity);
  auto bad = parse_instance_record(R"({"name":"x","spec":{},"placement":{"constraints":["nope"]}})");
  EXPECT_FALSE(bad);
  EXPECT_FALSE(parse_instance_record(R"({"name":"x","spec":{},"moving_to":"No Such"})"));
  EXPECT_EQ(again->storage, "backup");
  EXPECT_EQ(parse_instance_record(R"({"name":"x","spec":{},"storage":"local"})")->storage, "") << "local is the default";
  EXPECT_FALSE(parse_instance_record(R"({"name":"x","spec":{},"storage":"shared"})")) << "no such policy";
}

TEST(PlacementRules, TheSchedulersPassHonoursLabelsNamesAndAffinities) {
  std::vector<NodeStatus> nodes{labelled("n1", {{"zone", "a"}}), labelled("n2", {{"zone", "b"}, {"disk", "ssd"}}),
                                labelled("n3", {{"zone", "b"}})};
  std::vector<InstanceRecord> records{
      instance("db", "n3", {}, {{"app", "db"}}),
      instance("zoned", "", PlacementRules{{"node.labels.zone==b", "node.labels.disk!=ssd"}, {}, {}}),
      instance("named", "", PlacementRules{{"node.hostname==n1"}, {}, {}}),
      instance("beside", "", PlacementRules{{}, {"app=db"}, {}}),
      instance("away", "", PlacementRules{{}, {}, {"app=db"}}),
      instance("nowhere", "", PlacementRules{{"node.labels.zone==c"}, {}, {}}),
  };
  auto plan = plan_placements(nodes, records, placement::Policy::Binpack);
  std::map<std::string, std::string> on;
  for (const auto& m : plan.moves) on[records[m.record].name] = m.node;
  EXPECT_EQ(on["zoned"], "n3");
  EXPECT_EQ(on["named"], "n1");
  EXPECT_EQ(on["beside"], "n3");
  EXPECT_NE(on["away"], "n3");
  EXPECT_FALSE(on.count("away") == 0);
  ASSERT_EQ(plan.unplaced.size(), 1u);
  EXPECT_EQ(records[plan.unplaced[0].record].name, "nowhere");
  EXPECT_NE(plan.unplaced[0].why.message().find("3 without the labels"), std::string::npos) << plan.unplaced[0].why.message();
}

TEST(PlacementRules, AnInstanceOfAGroupThatAvoidsItsOwnKindGoesOnePerNode) {
  std::vector<NodeStatus> nodes{labelled("n1", {}), labelled("n2", {})};
  PlacementRules one_per_node{{}, {}, {"app=web"}};
  std::vector<InstanceRecord> records{instance("w1", "", one_per_node, {{"app", "web"}}),
                                      instance("w2", "", one_per_node, {{"app", "web"}}),
                                      instance("w3", "", one_per_node, {{"app", "web"}})};
  auto plan = plan_placements(nodes, records, placement::Policy::Binpack);
  ASSERT_EQ(plan.moves.size(), 2u);
  EXPECT_NE(plan.moves[0].node, plan.moves[1].node);
  EXPECT_EQ(plan.unplaced.size(), 1u);
}

TEST(PlacementRules, AMoveGoesAnywhereButItsOwnNodeByTheSameRules) {
  std::vector<NodeStatus> nodes{labelled("n1", {{"zone", "a"}}), labelled("n2", {{"zone", "a"}}),
                                labelled("n3", {{"zone", "b"}}), labelled("n4", {{"zone", "a"}}, true)};
  std::vector<InstanceRecord> records{instance("x", "n1", PlacementRules{{"node.labels.zone==a"}, {}, {}}),
                                      instance("y", "n2")};
  auto to = plan_move(nodes, records, 0, placement::Policy::Spread);
  ASSERT_TRUE(to) << to.error().to_string();
  EXPECT_EQ(*to, "n2") << "n1 is its own, n3 is zone b, n4 is cordoned";
  nodes[1].ready = false;
  auto none = plan_move(nodes, records, 0, placement::Policy::Spread);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().errnum(), ENOSPC);
}

}  // namespace
}  // namespace vessel::cluster
