// Drain and migrate --to NODE (docs/cluster.md#drain-and-migrate), three real vesselds on one
// etcd: node-1 runs three clustered containers; `vessel cluster drain node-1` moves each to
// node-2 or node-3, the old copy stopped before the new one starts (never two copies, sampled from
// /proc all along); then `vessel migrate NAME --to NODE` moves one back, by name, from any node.
#include <atomic>

#include "cluster_nodes.h"

namespace vessel::test::cluster_nodes {
namespace {

using namespace std::chrono_literals;

class ClusterDrain : public ClusterNodes {};

// Samples every instance's copies from /proc until stopped; the most copies any had at once.
struct CopySampler {
  std::vector<std::string> tokens;
  std::atomic<bool> stop{false};
  size_t most = 0;
  std::thread thread;
  void start() {
    thread = std::thread([this] {
      while (!stop) {
        for (const auto& t : tokens) most = std::max(most, shells_of(t).size());
        std::this_thread::sleep_for(20ms);
      }
    });
  }
  size_t finish() {
    stop = true;
    thread.join();
    return most;
  }
};

TEST_F(ClusterDrain, DrainMovesEachInstanceOffInOrderAndMigrateMovesOneByNodeName) {
  start_nodes(3);
  if (HasFatalFailure()) return;
  ASSERT_EQ(node(1).vessel({"cluster", "cordon", "node-2"}).status, 0);
  ASSERT_EQ(node(1).vessel({"cluster", "cordon", "node-3"}).status, 0);
  // VESSEL_DRAIN_INSTANCES (default 3) instances to drain, for a figure with more.
  int count = std::getenv("VESSEL_DRAIN_INSTANCES") ? std::max(3, std::atoi(std::getenv("VESSEL_DRAIN_INSTANCES"))) : 3;
  CopySampler sampler;
  for (int i = 1; i <= count; ++i) {
    std::string name = "app-" + std::to_string(i);
    sampler.tokens.push_back(token(name));
    auto r = run_clustered(node(2), name, token(name), {"--restart", "always", "--cpu-reservation", "0.1"});
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(wait_running(name, token(name)), "node-1");
  }
  ASSERT_EQ(node(1).vessel({"cluster", "uncordon", "node-2"}).status, 0);
  ASSERT_EQ(node(1).vessel({"cluster", "uncordon", "node-3"}).status, 0);

  sampler.start();
  auto began = std::chrono::steady_clock::now();
  auto drained = node(3).vessel({"cluster", "drain", "node-1", "--json"});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  EXPECT_LE(sampler.finish(), 1u) << "two copies of an instance ran at once";
  ASSERT_EQ(drained.status, 0) << drained.err << logs();
  auto report = json::parse(drained.out);
  ASSERT_TRUE(report && report->is_object()) << drained.out;
  EXPECT_EQ((*report)["moved"].size(), static_cast<size_t>(count)) << drained.out;
  EXPECT_TRUE((*report)["failed"].empty()) << drained.out;
  std::set<std::string> targets;
  for (const auto& m : (*report)["moved"]) {
    EXPECT_EQ(m.value("from", ""), "node-1");
    EXPECT_EQ(m.value("generation", 0), 2) << m.dump();
    targets.insert(m.value("to", ""));
  }
  EXPECT_EQ(targets, (std::set<std::string>{"node-2", "node-3"})) << "spread over both";
  for (int i = 1; i <= count; ++i) {
    std::string name = "app-" + std::to_string(i);
    EXPECT_NE(wait_running(name, token(name)), "node-1");
  }
  auto listed = node(1).vessel_json({"cluster", "inspect", "node-1", "--json"});
  EXPECT_EQ(listed.value("status", ""), "cordoned");
  EXPECT_TRUE(json::parse(node(1).vessel({"ls", "--json"}).out).value_or(json::Json()).is_array());
  fmt::print("drain of {} containers: {:.2f} s through the CLI, {:.2f} s by vesseld's report\n", count, took,
             report->value("seconds", 0.0));

  // Progress lines without --json.
  auto again = node(2).vessel({"cluster", "drain", "node-1"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("0 moved"), std::string::npos) << again.out;
  EXPECT_NE(again.err.find("cordoned node-1"), std::string::npos) << again.err;

  // migrate --to a cordoned node is refused and leaves it where it was; uncordoned, it moves.
  auto refused = node(2).vessel({"migrate", "app-1", "--to", "node-1"});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("cordoned"), std::string::npos) << refused.err;
  ASSERT_EQ(node(1).vessel({"cluster", "uncordon", "node-1"}).status, 0);
  sampler.tokens = {token("app-1")};
  sampler.stop = false;
  sampler.start();
  auto moved = node(2).vessel({"migrate", "app-1", "--to", "node-1"});
  EXPECT_LE(sampler.finish(), 1u);
  ASSERT_EQ(moved.status, 0) << moved.err << logs();
  EXPECT_NE(moved.out.find("to node-1 (generation 3)"), std::string::npos) << moved.out;
  EXPECT_NE(moved.err.find("app-1: stopping it on"), std::string::npos) << moved.err;
  EXPECT_EQ(wait_running("app-1", token("app-1")), "node-1");
  auto unknown = node(1).vessel({"migrate", "app-1", "--to", "node-9"});
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.err.find("no node named node-9"), std::string::npos) << unknown.err;
  for (int i = 1; i <= count; ++i) EXPECT_EQ(node(3).vessel({"rm", "app-" + std::to_string(i)}).status, 0);
}

}  // namespace
}  // namespace vessel::test::cluster_nodes
