// The etcd client over a 3-member etcd cluster (docs/cluster.md#the-etcd-client): a member that
// is gone (connection refused) or frozen (no answer) costs at most one call's timeout; the client
// answers from another member and keeps using it; a lease is kept alive through any member.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "cluster/etcd_client.h"
#include "etcd_cluster.h"

namespace vessel::cluster::etcd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// 127.213.X.k: loopback addresses of this process's own (port 2379 is etcd's default).
std::string loopback_address(int k) { return fmt::format("127.213.{}.{}", ::getpid() % 250 + 1, k); }

TEST(EtcdClusterClient, AnswersFromAnotherMemberWhenOneIsKilledOrFrozen) {
  test::EtcdCluster etcd;
  std::string error;
  ASSERT_TRUE(etcd.start(3, loopback_address, &error)) << error;
  auto endpoints = Client::parse_endpoints(etcd.urls());
  ASSERT_TRUE(endpoints);
  auto c = Client::create(ClientConfig{*endpoints, 1000ms});
  ASSERT_TRUE(c) << c.error().to_string();
  auto& client = **c;
  ASSERT_TRUE(client.put("/t/a", "one"));
  auto lease = client.grant(5);
  ASSERT_TRUE(lease) << lease.error().to_string();

  // The first (preferred) member killed: refused at once, the next member answers.
  ASSERT_TRUE(etcd.process(0).signal(SIGKILL));
  (void)etcd.process(0).wait();
  auto start = Clock::now();
  auto got = client.get("/t/a");
  ASSERT_TRUE(got) << got.error().to_string();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "one");
  EXPECT_LT(Clock::now() - start, 900ms);
  auto kept = client.keepalive(lease->id);
  ASSERT_TRUE(kept) << kept.error().to_string();
  EXPECT_GT(kept->ttl, 0);

  // Back on its data; then the member now in use frozen: one timeout, then another answers.
  ASSERT_TRUE(etcd.restart(0, SIGKILL, &error)) << error;
  ASSERT_TRUE(client.put("/t/b", "two"));  // on member 2 (index 1), preferred since the kill
  ASSERT_TRUE(etcd.process(1).signal(SIGSTOP));
  start = Clock::now();
  got = client.get("/t/b");
  auto took = Clock::now() - start;
  ASSERT_TRUE(etcd.process(1).signal(SIGCONT));
  ASSERT_TRUE(got) << got.error().to_string();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "two");
  EXPECT_LT(took, 2500ms);
  // And it stays with the member that answered: no second timeout.
  start = Clock::now();
  ASSERT_TRUE(etcd.process(1).signal(SIGSTOP));
  EXPECT_TRUE(client.keepalive(lease->id));
  EXPECT_LT(Clock::now() - start, 900ms);
  ASSERT_TRUE(etcd.process(1).signal(SIGCONT));
}

TEST(EtcdClusterClient, NamesEveryMemberWhenNoneAnswers) {
  auto c = Client::create(ClientConfig{{"http://127.0.0.1:9", "http://127.0.0.1:10", "http://127.0.0.1:11"}, 500ms});
  ASSERT_TRUE(c);
  auto got = (*c)->get("/t/a");
  ASSERT_FALSE(got);
  std::string message = got.error().to_string();
  for (const char* port : {":9", ":10", ":11"}) EXPECT_NE(message.find(port), std::string::npos) << message;
}

}  // namespace
}  // namespace vessel::cluster::etcd
