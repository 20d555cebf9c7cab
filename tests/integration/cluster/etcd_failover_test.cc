// The etcd client over a 3-member etcd cluster (docs/cluster.md#the-etcd-client): a member that
// is gone (connection refused) or frozen (no answer) costs at most one call's timeout; the client
// gets its answer from another member and keeps using it; a lease is kept alive through any
// member. While the others elect a leader, their answers are etcd's errors: those are retried.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <thread>

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

  // Until a call succeeds: while the others elect a leader after a member's death (about a
  // second) etcd answers "leader changed" or "no leader", or holds the request past the timeout.
  auto answered = [&](const std::function<bool()>& call) {
    auto start = Clock::now();
    while (!call() && Clock::now() - start < 5s) std::this_thread::sleep_for(100ms);
    return Clock::now() - start;
  };
  auto get = [&](const std::string& key, std::string* value) {
    auto got = client.get(key);
    EXPECT_TRUE(got || got.error().errnum() != EHOSTUNREACH) << got.error().to_string();
    if (got && got->has_value()) *value = (*got)->value;
    return got.has_value();
  };

  // The first (preferred) member killed: refused at once, the next member answers.
  ASSERT_TRUE(etcd.process(0).signal(SIGKILL));
  (void)etcd.process(0).wait();
  std::string value;
  EXPECT_LT(answered([&] { return get("/t/a", &value); }), 5s);
  EXPECT_EQ(value, "one");
  answered([&] { return client.keepalive(lease->id).has_value(); });
  auto kept = client.keepalive(lease->id);
  ASSERT_TRUE(kept) << kept.error().to_string();
  EXPECT_GT(kept->ttl, 0);

  // Back on its data; then the member now in use frozen: one timeout, then another answers.
  ASSERT_TRUE(etcd.restart(0, SIGKILL, &error)) << error;
  answered([&] { return client.put("/t/b", "two").has_value(); });  // on member 2 (index 1), preferred since the kill
  ASSERT_TRUE(etcd.process(1).signal(SIGSTOP));
  value.clear();
  auto took = answered([&] { return get("/t/b", &value); });
  EXPECT_EQ(value, "two");
  EXPECT_LT(took, 5s);
  // And it stays with the member that answered: no second timeout on the frozen one.
  auto start = Clock::now();
  (void)client.get("/t/b");
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
