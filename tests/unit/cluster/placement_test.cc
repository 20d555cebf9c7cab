// Placement's filters and policies (src/cluster/placement/placement.h), and the simulator.
#include "cluster/placement/placement.h"

#include <gtest/gtest.h>

#include <set>

#include "cluster/placement/simulator.h"

namespace vessel::cluster::placement {
namespace {

Node node(std::string name, double cpus, uint64_t memory_mib, std::map<std::string, std::string> labels = {}) {
  return Node{std::move(name), cpus, memory_mib, std::move(labels), true, false, 0};
}

Request request(std::string name, double cpus, uint64_t memory_mib) {
  Request r;
  r.name = std::move(name);
  r.cpus = cpus;
  r.memory_mib = memory_mib;
  return r;
}

void expect_no_node(Scheduler& s, const Request& r, const std::string& reason) {
  auto placed = s.place(r);
  ASSERT_FALSE(placed) << r.name << " went to " << *placed;
  EXPECT_EQ(placed.error().errnum(), ENOSPC);
  EXPECT_NE(placed.error().message().find(reason), std::string::npos) << placed.error().message();
}

TEST(Placement, CapacityFilterAndWhyNothingFits) {
  Scheduler s(Policy::Spread);
  s.add_node(node("small", 1, 512));
  s.add_node(node("big", 8, 1024));
  EXPECT_EQ(*s.place(request("a", 2, 256)), 1u);  // only big has 2 CPUs
  expect_no_node(s, request("b", 0.5, 1024), "2 short of memory");
  EXPECT_EQ(*s.place(request("c", 0.25, 128)), 0u);  // small is emptier after it
  EXPECT_EQ(s.load(1).instances, 1u);
  EXPECT_EQ(s.load(1).memory_mib, 256u);
}

TEST(Placement, CordonedAndNotReadyNodesGetNothing) {
  Scheduler s(Policy::Spread);
  for (auto n : {"a", "b", "c"}) s.add_node(node(n, 1, 1024));
  s.set_cordoned(0, true);
  s.set_ready(1, false);
  EXPECT_EQ(*s.place(request("x", 1, 10)), 2u);
  expect_no_node(s, request("y", 1, 10), "1 not ready, 1 cordoned, 1 short of CPUs");
  s.set_cordoned(0, false);
  EXPECT_EQ(*s.place(request("y", 1, 10)), 0u);
}

TEST(Placement, LabelSelector) {
  Scheduler s(Policy::Spread);
  s.add_node(node("a", 4, 4096, {{"zone", "z1"}}));
  s.add_node(node("b", 4, 4096, {{"zone", "z2"}, {"disk", "ssd"}}));
  Request r = request("db", 1, 100);
  r.selector = {{"disk", "ssd"}};
  EXPECT_EQ(*s.place(r), 1u);
  r.selector = {{"zone", "z1"}};
  EXPECT_EQ(*s.place(r), 0u);
  r.selector = {{"zone", "z3"}};
  expect_no_node(s, r, "2 without the labels");
}

TEST(Placement, AntiAffinityOnePerNode) {
  Scheduler s(Policy::Binpack);  // binpack would stack them: the rule must win
  for (auto n : {"a", "b", "c"}) s.add_node(node(n, 8, 8192));
  Request web = request("web", 1, 100);
  web.group = "web";
  web.anti_affinity = {"web"};
  std::set<size_t> used;
  for (int i = 0; i < 3; ++i) used.insert(*s.place(web));
  EXPECT_EQ(used.size(), 3u);
  expect_no_node(s, web, "3 running an anti-affinity group");
  s.release(1, web);
  EXPECT_EQ(*s.place(web), 1u);
}

TEST(Placement, AffinityFollowsTheGroup) {
  Scheduler s(Policy::Spread);  // spread would scatter them: the rule must win
  for (auto n : {"a", "b", "c"}) s.add_node(node(n, 8, 8192));
  Request db = request("db", 1, 100);
  db.group = "db";
  db.affinity = {"db"};  // the first starts the group anywhere
  size_t first = *s.place(db);
  EXPECT_EQ(*s.place(db), first);
  Request cache = request("cache", 1, 100);
  cache.group = "cache";
  cache.affinity = {"db"};
  EXPECT_EQ(*s.place(cache), first);
  cache.affinity = {"nothing"};
  expect_no_node(s, cache, "3 not running the affinity groups");
}

TEST(Placement, SpreadScattersBinpackStacks) {
  Scheduler spread(Policy::Spread), binpack(Policy::Binpack);
  for (auto n : {"a", "b", "c", "d"}) spread.add_node(node(n, 4, 4096)), binpack.add_node(node(n, 4, 4096));
  std::set<size_t> spread_nodes, binpack_nodes;
  for (int i = 0; i < 4; ++i) {
    spread_nodes.insert(*spread.place(request("s", 1, 512)));
    binpack_nodes.insert(*binpack.place(request("b", 1, 512)));
  }
  EXPECT_EQ(spread_nodes.size(), 4u);
  EXPECT_EQ(binpack_nodes, std::set<size_t>{0});
  EXPECT_EQ(*binpack.place(request("b", 1, 512)), 1u);  // node a is full
}

TEST(Placement, ProportionalFollowsCapacity) {
  // A_i = P_i / sum(P) x V: with CPUs 8, 16 and 24 and 48 instances, 8, 16 and 24.
  Scheduler s(Policy::Proportional);
  s.add_node(node("a", 8, 65536));
  s.add_node(node("b", 16, 65536));
  s.add_node(node("c", 24, 65536));
  for (int i = 0; i < 48; ++i) ASSERT_TRUE(s.place(request("p", 0.01, 1)));
  EXPECT_EQ(s.load(0).instances, 8u);
  EXPECT_EQ(s.load(1).instances, 16u);
  EXPECT_EQ(s.load(2).instances, 24u);
  // An explicit weight replaces the CPUs.
  Scheduler w(Policy::Proportional);
  Node heavy = node("heavy", 1, 65536);
  heavy.weight = 3;
  w.add_node(heavy);
  w.add_node(node("light", 1, 65536));
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(w.place(request("p", 0.01, 1)));
  EXPECT_EQ(w.load(0).instances, 30u);
}

TEST(Placement, Policies) {
  EXPECT_EQ(*parse_policy("binpack"), Policy::Binpack);
  EXPECT_EQ(to_string(Policy::Proportional), "proportional");
  auto bad = parse_policy("random");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().hint().find("spread, binpack and proportional"), std::string::npos);
}

TEST(PlacementSimulator, PlacesEverythingDeterministically) {
  for (Policy p : {Policy::Spread, Policy::Binpack, Policy::Proportional}) {
    SimulationConfig config{200, 2000, p, 7};
    auto a = simulate(config), b = simulate(config);
    EXPECT_EQ(a.placed + a.unplaced, 2000u);
    EXPECT_EQ(a.placed, b.placed);
    EXPECT_EQ(a.nodes_used, b.nodes_used);
    EXPECT_GT(a.placements_per_second, 0);
    EXPECT_LE(a.cpu_used_max, 1.0 + 1e-9);
    auto j = report_json(a);
    EXPECT_EQ(j["policy"], std::string(to_string(p)));
  }
  auto spread = simulate({200, 2000, Policy::Spread, 7});
  auto binpack = simulate({200, 2000, Policy::Binpack, 7});
  EXPECT_LT(binpack.nodes_used, spread.nodes_used);  // binpack leaves nodes empty
  auto proportional = simulate({200, 2000, Policy::Proportional, 7});
  EXPECT_LT(proportional.largest_share_error, 3.0);  // within a few instances of A_i
}

}  // namespace
}  // namespace vessel::cluster::placement
