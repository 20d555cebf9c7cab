// `vessel ls` in a cluster (docs/cluster.md#desired-state): node-1 lists an instance node-3 runs as
// node-3 sees it (running, its pid), not as its record says; once node-3 is dead, node-1 still
// answers at once, from the record (state remote).
#include <gtest/gtest.h>

#include <chrono>

#include "cluster_nodes.h"

namespace vessel::test {
namespace {

using cluster_nodes::shells_of;

class ClusterLiveList : public cluster_nodes::ClusterNodes {};

json::Json listed(const Daemon& via, const std::string& name) {
  for (const auto& i : via.vessel_json({"ls", "--all", "--json"}))
    if (i.value("name", "") == name) return i;
  return json::Json::object();
}

TEST_F(ClusterLiveList, LsOnAnyNodeShowsWhatTheOwningNodeSees) {
  start_nodes(3);
  std::string tok = token("listed");
  ASSERT_EQ(run_clustered(node(1), "listed", tok, {"--constraint", "node.hostname==node-3"}).status, 0) << logs();
  ASSERT_EQ(wait_running("listed", tok), "node-3");
  auto shells = shells_of(tok);
  ASSERT_EQ(shells.size(), 1u);
  for (int via : {1, 2}) {
    auto i = listed(node(via), "listed");
    EXPECT_EQ(i.value("state", ""), "running") << i.dump();
    EXPECT_EQ(i.value("node", ""), "node-3") << i.dump();
    EXPECT_EQ(i.value("generation", 0), 1) << i.dump();
    EXPECT_GT(i.value("pid", 0), 0) << "node-3's own view carries the pid: " << i.dump();
  }

  nodes_[2]->daemon->stop(SIGKILL);
  for (pid_t p : shells_of(tok)) ::kill(p, SIGKILL);
  auto asked = std::chrono::steady_clock::now();
  auto i = listed(node(1), "listed");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  EXPECT_EQ(i.value("state", ""), "remote") << i.dump();
  EXPECT_LT(seconds, 3.0) << "a dead node does not hold up ls";
  EXPECT_EQ(node(1).vessel({"rm", "-f", "listed"}).status, 0);
}

}  // namespace
}  // namespace vessel::test
