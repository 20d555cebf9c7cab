// Forwarding (docs/cluster.md#forwarding), three real vesselds on one etcd: a clustered container
// runs on node-3; node-1 and node-2 answer inspect, logs and exec for it (forwarded to node-3), and
// stop, start and rm (its desired state in etcd). A stopped `--restart always` instance stays
// stopped; when node-3 is down, the error names it and says what to do.
#include "cluster_nodes.h"
#include "http/http.h"

namespace vessel::test::cluster_nodes {
namespace {

using namespace std::chrono_literals;

class ClusterForwarding : public ClusterNodes {};

TEST_F(ClusterForwarding, AnyNodeActsOnAnInstanceThatRunsOnAnother) {
  start_nodes(3);
  if (HasFatalFailure()) return;
  std::string tok = token("forward");
  auto run = run_clustered(node(1), "web", tok, {"--restart", "always", "--constraint", "node.hostname==node-3"});
  ASSERT_EQ(run.status, 0) << run.err;
  ASSERT_EQ(wait_running("web", tok), "node-3");

  // inspect through node-1 is node-3's own view (running, its pid), not the record's.
  auto inspected = node(1).vessel_json({"inspect", "web"});
  EXPECT_EQ(inspected.value("state", ""), "running") << inspected.dump();
  EXPECT_EQ(inspected.value("node", ""), "node-3");
  EXPECT_GT(inspected.value("pid", 0), 0) << inspected.dump();

  // logs and exec, streamed through node-1 and node-2.
  auto logs_out = node(1).vessel({"logs", "web"});
  EXPECT_EQ(logs_out.status, 0) << logs_out.err;
  EXPECT_NE(logs_out.out.find("hello " + tok), std::string::npos) << logs_out.out;
  // logs --follow is streamed as it comes: two ticks written after the request arrive through node-1.
  int ticks = 0;
  http::ClientOptions follow;
  follow.unix_socket = node(1).socket();
  follow.timeout = std::chrono::seconds(20);
  auto streamed = http::request_stream(follow, "GET", "http://localhost/v1/instances/web/logs?follow=1&tail=0",
                                       [&](std::string_view data) {
                                         for (size_t at = data.find("tick"); at != std::string_view::npos;
                                              at = data.find("tick", at + 1))
                                           ++ticks;
                                         return ticks < 2;
                                       });
  EXPECT_EQ(ticks, 2) << (streamed ? "" : streamed.error().to_string());
  auto exec = node(2).vessel({"exec", "web", "--", "/bin/sh", "-c", "echo from-$((6*7)); exit 3"});
  EXPECT_EQ(exec.status, 3) << exec.err;
  EXPECT_NE(exec.out.find("from-42"), std::string::npos) << exec.out << exec.err;

  // stop through node-2: the record says stopped, node-3 stops it and, restart always or not,
  // keeps it stopped.
  auto stop = node(2).vessel({"stop", "-t", "5", "web"});
  ASSERT_EQ(stop.status, 0) << stop.err << logs();
  EXPECT_TRUE(shells_of(tok).empty());
  std::this_thread::sleep_for(2500ms);  // two and more reconcile passes
  EXPECT_TRUE(shells_of(tok).empty()) << "a stopped --restart always instance started again";
  EXPECT_EQ(where(node(1), "web").second, "stopped");
  // start through node-1 brings it back on node-3.
  auto start = node(1).vessel({"start", "web"});
  ASSERT_EQ(start.status, 0) << start.err << logs();
  EXPECT_EQ(wait_running("web", tok), "node-3");

  // Errors from node-3 come back as node-3 said them.
  auto bad = node(1).vessel({"exec", "web", "--", "/no/such/program"});
  EXPECT_NE(bad.status, 0);

  // node-3 dies with its instance: before its lease expires, node-1 says where it runs and what to do.
  nodes_[2]->daemon->stop(SIGKILL);
  for (pid_t p : shells_of(tok)) ::kill(p, SIGKILL);
  auto unreachable = node(1).vessel({"logs", "web"});
  EXPECT_NE(unreachable.status, 0);
  EXPECT_NE(unreachable.err.find("node-3"), std::string::npos) << unreachable.err;
  EXPECT_NE(unreachable.err.find("vessel cluster inspect node-3"), std::string::npos) << unreachable.err;
  // Its restart policy moves it (the constraint pins it to node-3: it waits there instead).
  EXPECT_EQ(where(node(1), "web").first, "node-3");
  // Once node-3 is not ready, stop is recorded and says that node-3 does it when it is back.
  ASSERT_TRUE(eventually([&] {
    return node(1).vessel_json({"cluster", "inspect", "node-3", "--json"}).value("status", "") == "not-ready";
  }, 200));
  auto recorded = node(1).vessel({"stop", "web"});
  EXPECT_EQ(recorded.status, 0) << recorded.err;
  EXPECT_NE(recorded.err.find("warning: node node-3 is not ready"), std::string::npos) << recorded.err;

  // rm through node-2 removes the record: nothing of it is left anywhere.
  auto rm = node(2).vessel({"rm", "web"});
  EXPECT_EQ(rm.status, 0) << rm.err;
  auto gone = node(1).vessel({"inspect", "web"});
  EXPECT_NE(gone.status, 0) << gone.out;
}

// Without a restart policy: a copy the record held stopped starts again on vessel start, also
// when its node's vesseld restarted in between; one that ended by itself stays ended, as a local
// one does, until vessel start (as docker start).
TEST_F(ClusterForwarding, StopAndStartWithoutARestartPolicy) {
  start_nodes(2);
  if (HasFatalFailure()) return;
  std::string tok = token("no-policy");
  ASSERT_EQ(run_clustered(node(1), "plain", tok, {"--constraint", "node.hostname==node-2"}).status, 0) << logs();
  ASSERT_EQ(wait_running("plain", tok), "node-2");
  auto stop = node(1).vessel({"stop", "-t", "5", "plain"});
  ASSERT_EQ(stop.status, 0) << stop.err << logs();
  EXPECT_TRUE(shells_of(tok).empty());
  // node-2's vesseld restarts meanwhile: it keeps nothing in memory of the stop.
  node(2).stop(SIGTERM);
  ASSERT_TRUE(node(2).start()) << node(2).log();
  ASSERT_TRUE(eventually([&] {
    auto nodes = json::parse(node(1).vessel({"cluster", "ls", "--json"}).out);
    if (!nodes || !nodes->is_array()) return false;
    for (const auto& n : *nodes)
      if (n.value("name", "") == "node-2") return n.value("status", "") == "ready";
    return false;
  }, 300)) << logs();
  auto start = node(1).vessel({"start", "plain"});
  ASSERT_EQ(start.status, 0) << start.err << logs();
  EXPECT_EQ(wait_running("plain", tok), "node-2");
  // It ends by itself (its shell killed): no policy, so it stays ended.
  for (pid_t p : shells_of(tok)) ::kill(p, SIGKILL);
  ASSERT_TRUE(eventually([&] { return where(node(1), "plain").second == "stopped"; }, 300)) << logs();
  std::this_thread::sleep_for(2500ms);  // reconcile passes
  EXPECT_TRUE(shells_of(tok).empty()) << "a copy without a restart policy came back by itself";
  auto again = node(1).vessel({"start", "plain"});
  ASSERT_EQ(again.status, 0) << again.err << logs();
  EXPECT_EQ(wait_running("plain", tok), "node-2");
  EXPECT_EQ(node(1).vessel({"rm", "-f", "plain"}).status, 0);
}

}  // namespace
}  // namespace vessel::test::cluster_nodes
