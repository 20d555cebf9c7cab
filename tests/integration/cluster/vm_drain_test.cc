// Drain by live migration (docs/cluster.md#drain-and-migrate), label kvm: two real vesselds on
// one etcd and one host; a clustered VM (the test-kit counter guest) runs on node-1; `vessel
// cluster drain node-1` moves it to node-2 by live migration: it counts on there from where it
// was (not from 1), at the same generation, and node-1 keeps nothing of it. The same between nodes
// that reach each other as two hosts do: over TLS (--listen, --advertise https://), the VM's
// memory inside TLS, relayed by the two vesselds.
#include "cluster_nodes.h"
#include "vm_test_kit.h"

namespace vessel::test::cluster_nodes {
namespace {

class ClusterVmDrain : public ClusterNodes {
 protected:
  // Runs vm1 on node-1, drains node-1 and checks that it counts on on node-2.
  void drain_a_counting_vm();
};

TEST_F(ClusterVmDrain, ARunningVmMovesLiveAndCountsOn) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  // Under emulation etcd can take over a second to answer: a 3 s lease fenced the VM (killed it).
  lease_ttl_ = "15";
  start_nodes(2, {{"--vmm", vmm()}, {"--vmm", vmm(), "--jailer-uid-base", "960000"}});
  if (HasFatalFailure()) return;
  drain_a_counting_vm();
}

TEST_F(ClusterVmDrain, BetweenNodesReachedOverTlsTheMemoryGoesInsideTls) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  lease_ttl_ = "15";
  std::vector<std::vector<std::string>> flags{{"--vmm", vmm()}, {"--vmm", vmm(), "--jailer-uid-base", "960000"}};
  for (auto& f : flags) {
    std::string port = std::to_string(free_tcp_port());
    for (std::string a : {std::string("--listen"), "tcp://127.0.0.1:" + port, std::string("--advertise"), "https://127.0.0.1:" + port})
      f.push_back(a);
  }
  start_nodes(2, flags);
  if (HasFatalFailure()) return;
  drain_a_counting_vm();
  if (HasFatalFailure()) return;
  // node-2's vessel-vmm listened on a Unix socket only; node-2's vesseld took the stream inside
  // TLS, on a listener of its own, and relayed it there.
  EXPECT_NE(node(2).log().find("vm1: receiving a live migration inside TLS on tls:127.0.0.1:"), std::string::npos)
      << node(2).log();
}

void ClusterVmDrain::drain_a_counting_vm() {
  ASSERT_EQ(node(1).vessel({"cluster", "cordon", "node-2"}).status, 0);
  auto run = node(2).vessel({"run", "--cluster-wide", "--vm", "--name", "vm1", "--kernel", guest("counter"), "--cmdline",
                             "count=1000000", "--memory", "64M", "--cpus", "1", "--stop-timeout", "0", "--restart", "always"});
  ASSERT_EQ(run.status, 0) << run.err;
  ASSERT_TRUE(eventually([&] { return where(node(2), "vm1") == std::pair<std::string, std::string>{"node-1", "running"}; }, 600))
      << logs();
  ASSERT_TRUE(eventually([&] { return logged_counts(node(1), "vm1").size() >= 3; }, 600)) << logs();
  ASSERT_EQ(node(1).vessel({"cluster", "uncordon", "node-2"}).status, 0);

  auto drained = node(2).vessel({"cluster", "drain", "node-1", "--json"});
  ASSERT_EQ(drained.status, 0) << drained.err << logs();
  auto report = json::parse(drained.out);
  ASSERT_TRUE(report && report->is_object() && (*report)["moved"].size() == 1) << drained.out;
  const auto& moved = (*report)["moved"][0];
  EXPECT_TRUE(moved.value("live", false)) << drained.out;
  EXPECT_EQ(moved.value("to", ""), "node-2");
  EXPECT_EQ(moved.value("generation", 0), 1) << "the same guest keeps its generation";
  fmt::print("live drain of a VM: {:.2f} s, downtime {:.2f} ms (nested KVM host, TCG)\n", moved.value("seconds", 0.0),
             moved.value("downtime_ms", 0.0));
  // It counts on node-2 from where it was on node-1.
  ASSERT_TRUE(eventually([&] { return logged_counts(node(2), "vm1").size() >= 2; }, 600)) << logs();
  auto counts = logged_counts(node(2), "vm1");
  EXPECT_GT(counts.front(), 1) << "it started again instead of moving";
  EXPECT_EQ(where(node(1), "vm1"), (std::pair<std::string, std::string>{"node-2", "running"}));
  auto local = node(1).vessel_json({"ls", "-a", "--json"});
  for (const auto& i : local) EXPECT_NE(i.value("node", ""), "node-1") << local.dump();
  // Stays there: neither node re-creates or drops it in the next passes.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(where(node(1), "vm1"), (std::pair<std::string, std::string>{"node-2", "running"}));
  EXPECT_EQ(node(1).vessel({"rm", "--force", "vm1"}).status, 0);
}

}  // namespace
}  // namespace vessel::test::cluster_nodes
