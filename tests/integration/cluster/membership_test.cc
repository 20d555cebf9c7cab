// Membership (src/cluster/membership.h) against a real etcd: nodes join, stay ready beyond their
// TTL, are cordoned, leave, come back after losing their lease, and names are unique.
#include "cluster/membership.h"

#include <gtest/gtest.h>

#include <thread>

#include "etcd_server.h"

namespace vessel::cluster {
namespace {

using namespace std::chrono_literals;

class MembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(server_.start(&error)) << error;
  }
  std::unique_ptr<etcd::Client> client() {
    return std::move(*etcd::Client::create(etcd::ClientConfig{{server_.url()}, 1500ms}));
  }
  Result<std::unique_ptr<Membership>> join(const std::string& name, int64_t ttl = 2, double cpus = 4) {
    MembershipConfig config;
    config.node.name = name;
    config.node.cpus = cpus;
    config.node.memory_mib = 8192;
    config.node.labels = {{"zone", "a"}};
    config.ttl_seconds = ttl;
    return Membership::join(client(), config);
  }
  std::map<std::string, NodeStatus> nodes(const Membership& m) {
    std::map<std::string, NodeStatus> out;
    auto list = m.nodes();
    EXPECT_TRUE(list) << list.error().to_string();
    if (list) for (auto& n : *list) out[n.info.name] = n;
    return out;
  }
  test::EtcdServer server_;
};

TEST_F(MembershipTest, JoinStayReadyCordonLeave) {
  auto a = join("node-a"), b = join("node-b");
  ASSERT_TRUE(a) << a.error().to_string();
  ASSERT_TRUE(b) << b.error().to_string();
  std::this_thread::sleep_for(4500ms);  // more than two TTLs: the keeper renews
  auto seen = nodes(**a);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen["node-a"].ready);
  EXPECT_TRUE(seen["node-b"].ready);
  EXPECT_EQ(seen["node-b"].info.cpus, 4);
  EXPECT_EQ(seen["node-b"].info.memory_mib, 8192u);
  EXPECT_EQ(seen["node-b"].info.labels.at("zone"), "a");
  auto cordoned = (*a)->set_cordoned("node-b", true);
  ASSERT_TRUE(cordoned) << cordoned.error().to_string();
  EXPECT_TRUE(cordoned->cordoned);
  EXPECT_EQ(node_status_json(*cordoned)["status"], "cordoned");
  EXPECT_FALSE((*a)->set_cordoned("node-b", false)->cordoned);
  auto missing = (*a)->set_cordoned("nobody", true);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errnum(), ENOENT);
  b->reset();  // leaving revokes the lease: not ready at once, the record stays
  seen = nodes(**a);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen["node-b"].ready);
  EXPECT_EQ(node_status_json(seen["node-b"])["status"], "not-ready");
}

TEST_F(MembershipTest, ALostLeaseIsReplaced) {
  auto a = join("node-a");
  ASSERT_TRUE(a) << a.error().to_string();
  int64_t lease = nodes(**a)["node-a"].lease;
  ASSERT_NE(lease, 0);
  ASSERT_TRUE(client()->revoke(lease));  // as if etcd had been out of reach longer than the TTL
  EXPECT_FALSE(nodes(**a)["node-a"].ready);
  bool back = false;
  for (int i = 0; i < 40 && !back; ++i) {
    std::this_thread::sleep_for(100ms);
    auto n = nodes(**a)["node-a"];
    back = n.ready && n.lease != lease;
  }
  EXPECT_TRUE(back);
}

TEST_F(MembershipTest, ReadyAgainAfterEtcdWasFrozenLongerThanTheTtl) {
  auto a = join("node-a");
  ASSERT_TRUE(a) << a.error().to_string();
  ASSERT_TRUE(server_.process().signal(SIGSTOP));
  std::this_thread::sleep_for(3500ms);  // renewals time out meanwhile
  ASSERT_TRUE(server_.process().signal(SIGCONT));
  bool ready = false;
  for (int i = 0; i < 60 && !ready; ++i) {
    std::this_thread::sleep_for(100ms);
    auto list = (*a)->nodes();
    ready = list && list->size() == 1 && (*list)[0].ready;
  }
  EXPECT_TRUE(ready);
}

TEST_F(MembershipTest, NamesAreUniqueAndChecked) {
  auto a = join("node-a");
  ASSERT_TRUE(a) << a.error().to_string();
  auto t0 = std::chrono::steady_clock::now();
  auto again = join("node-a", 2, 99);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errnum(), EEXIST) << again.error().to_string();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 2s);  // it waited out a possibly dead holder's TTL
  EXPECT_EQ(nodes(**a)["node-a"].info.cpus, 4);  // the loser changed nothing
  auto bad = join("Node_A");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errnum(), EINVAL);
}

TEST(MembershipDown, JoinWithoutEtcdFails) {
  auto c = etcd::Client::create(etcd::ClientConfig{{"http://127.0.0.1:" + std::to_string(test::free_tcp_port())}, 500ms});
  MembershipConfig config;
  config.node.name = "lonely";
  auto m = Membership::join(std::move(*c), config);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().to_string().find("join the cluster as lonely"), std::string::npos) << m.error().to_string();
}

}  // namespace
}  // namespace vessel::cluster
