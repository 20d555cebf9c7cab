// Placement rules (docs/cluster.md#placement-rules), three real vesselds on one etcd with labels
// (node-1 zone=a, node-2 and node-3 zone=b): constraints on node labels and host names, affinity
// and anti-affinity to other instances by their labels, all honoured by the elected scheduler.
#include "cluster_nodes.h"

namespace vessel::test::cluster_nodes {
namespace {

class ClusterPlacementRules : public ClusterNodes {};

TEST_F(ClusterPlacementRules, ConstraintsAndAffinitiesPickTheNode) {
  start_nodes(3, {{"--labels", "zone=a"}, {"--labels", "zone=b,disk=ssd"}, {"--labels", "zone=b"}});
  if (HasFatalFailure()) return;
  // The node record carries the labels.
  auto listed = node(1).vessel_json({"cluster", "inspect", "node-2", "--json"});
  EXPECT_EQ(listed["labels"].value("disk", ""), "ssd") << listed.dump();

  auto db = run_clustered(node(1), "db", token("db"), {"--label", "app=db", "--constraint", "node.labels.zone==b",
                                                       "--constraint", "node.labels.disk!=ssd"});
  ASSERT_EQ(db.status, 0) << db.err;
  EXPECT_EQ(wait_running("db", token("db")), "node-3") << "zone b without ssd";
  auto cache = run_clustered(node(2), "cache", token("cache"), {"--affinity", "app=db"});
  ASSERT_EQ(cache.status, 0) << cache.err;
  EXPECT_EQ(wait_running("cache", token("cache")), "node-3") << "beside db";
  // One web per node: two go to the two nodes without one, the third nowhere (node-3 runs web-1
  // or web-2 by then, and the others run one each).
  std::set<std::string> web_nodes;
  for (const char* name : {"web-1", "web-2"}) {
    auto web = run_clustered(node(1), name, token(name), {"--label", "app=web", "--anti-affinity", "app=web"});
    ASSERT_EQ(web.status, 0) << web.err;
    web_nodes.insert(wait_running(name, token(name)));
  }
  EXPECT_EQ(web_nodes.size(), 2u);
  auto pinned = run_clustered(node(3), "pinned", token("pinned"), {"--constraint", "node.hostname==node-1"});
  ASSERT_EQ(pinned.status, 0) << pinned.err;
  EXPECT_EQ(wait_running("pinned", token("pinned")), "node-1");

  // No node matches: it stays pending, and the record says why it may not run anywhere.
  auto nowhere = run_clustered(node(1), "nowhere", token("nowhere"), {"--constraint", "node.labels.zone==c"});
  ASSERT_EQ(nowhere.status, 0) << nowhere.err;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto pending = node(2).vessel_json({"inspect", "nowhere"});
  EXPECT_EQ(pending.value("state", ""), "pending") << pending.dump();
  EXPECT_EQ(pending["placement"]["constraints"][0], "node.labels.zone==c") << pending.dump();
  EXPECT_NE(logs().find("cannot place nowhere"), std::string::npos);

  // Bad rules are refused before anything is stored, saying what is expected.
  auto bad = run_clustered(node(1), "bad", token("bad"), {"--constraint", "zone=a"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("node.labels.KEY==VALUE"), std::string::npos) << bad.err;
  auto bad_affinity = run_clustered(node(1), "bad", token("bad"), {"--affinity", "app"});
  EXPECT_NE(bad_affinity.status, 0);
  EXPECT_NE(bad_affinity.err.find("KEY=VALUE"), std::string::npos) << bad_affinity.err;
  auto local = node(1).vessel({"run", "--name", "x", "--rootfs", images_.path + "/rootfs", "--constraint",
                               "node.hostname==node-1", "--", "/bin/true"});
  EXPECT_NE(local.status, 0);
  EXPECT_NE(local.err.find("--cluster-wide"), std::string::npos) << local.err;
  for (const char* name : {"db", "cache", "web-1", "web-2", "pinned", "nowhere"}) EXPECT_EQ(node(2).vessel({"rm", name}).status, 0);
}

}  // namespace
}  // namespace vessel::test::cluster_nodes
