// Two real vesselds (each its own state directory and socket) in one cluster on a real etcd: both
// are ready; one killed with SIGKILL is not ready within its lease TTL (docs/cluster.md).
#include <gtest/gtest.h>

#include "daemon_fixture.h"
#include "etcd_server.h"

namespace vessel::test {
namespace {

using namespace std::chrono_literals;

std::map<std::string, std::string> statuses(const Daemon& d) {
  std::map<std::string, std::string> out;
  auto r = d.vessel({"cluster", "ls", "--json"});
  auto j = json::parse(r.out);
  if (r.status != 0 || !j || !j->is_array()) return out;
  for (const auto& n : *j) out[n.value("name", "")] = n.value("status", "");
  return out;
}

TEST(ClusterDaemons, TwoNodesReadyAndAKilledOneIsNotReadyAfterItsTtl) {
  EtcdServer etcd;
  std::string error;
  ASSERT_TRUE(etcd.start(&error)) << error;
  TempDir dir_a, dir_b;
  SecondCgroupParent second;
  Daemon a(dir_a.path, {"--node", "node-a", "--cluster", etcd.url(), "--lease-ttl", "2", "--labels", "zone=a,disk=ssd"});
  Daemon b(dir_b.path, {"--node", "node-b", "--cluster", etcd.url(), "--lease-ttl", "2", "--cgroup-parent", second.name});
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  auto seen = statuses(b);
  EXPECT_EQ(seen["node-a"], "ready");
  EXPECT_EQ(seen["node-b"], "ready");
  auto node_a = b.vessel_json({"cluster", "inspect", "node-a", "--json"});
  EXPECT_EQ(node_a.value("labels", json::Json::object()).value("zone", ""), "a");
  EXPECT_GT(node_a.value("cpus", 0.0), 0);
  EXPECT_GT(node_a.value("memory_mib", 0), 0);
  EXPECT_FALSE(node_a.value("local", true));
  auto table = b.vessel({"cluster", "ls"});
  EXPECT_NE(table.out.find("node-b *"), std::string::npos) << table.out;

  EXPECT_EQ(b.vessel({"cluster", "cordon", "node-a"}).status, 0);
  EXPECT_EQ(statuses(a)["node-a"], "cordoned");
  EXPECT_EQ(a.vessel({"cluster", "uncordon", "node-a"}).status, 0);
  EXPECT_EQ(statuses(b)["node-a"], "ready");

  a.stop(SIGKILL);  // no goodbye: only the lease's expiry tells
  auto killed = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return statuses(b)["node-a"] == "not-ready"; }, 200)) << b.vessel({"cluster", "ls"}).out;
  // Not before its lease could expire (TTL 2 s, renewed every 2/3 s), and within TTL + etcd's slack.
  EXPECT_GT(std::chrono::steady_clock::now() - killed, 500ms);
  EXPECT_EQ(statuses(b)["node-b"], "ready");
}

TEST(ClusterDaemons, ADaemonOutsideAClusterSaysHowToJoin) {
  TempDir dir;
  Daemon d(dir.path);
  ASSERT_TRUE(d.start()) << d.log();
  auto r = d.vessel({"cluster", "ls"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not in a cluster"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--cluster"), std::string::npos) << r.err;
}

TEST(ClusterDaemons, BadClusterFlagsStopTheStart) {
  TempDir dir;
  auto r = run({vesseld_path(), "--socket", dir.path + "/s.sock", "--state-dir", dir.path + "/state", "--node", "x"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("need --cluster"), std::string::npos) << r.err;
  r = run({vesseld_path(), "--socket", dir.path + "/s.sock", "--state-dir", dir.path + "/state", "--node", "x",
           "--cluster", "127.0.0.1:2379"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("http://"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vessel::test
