// The etcd client against a real etcd (Debian's etcd-server) on private ports: keys, compare-and-
// swap, leases, watches, elections, and the errors when etcd is not there.
#include "cluster/etcd_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "etcd_server.h"

namespace vessel::cluster::etcd {
namespace {

using namespace std::chrono_literals;

class Etcd : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(server_.start(&error)) << error;
    auto c = Client::create(ClientConfig{{server_.url()}});
    ASSERT_TRUE(c) << c.error().to_string();
    client_ = std::move(*c);
  }
  test::EtcdServer server_;
  std::unique_ptr<Client> client_;
};

TEST_F(Etcd, PutGetRangeDelete) {
  ASSERT_TRUE(client_->put("/t/a", std::string("one\0binary", 10)));
  ASSERT_TRUE(client_->put("/t/b", "two"));
  ASSERT_TRUE(client_->put("/u", "other"));
  auto a = client_->get("/t/a");
  ASSERT_TRUE(a) << a.error().to_string();
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->value, std::string("one\0binary", 10));
  EXPECT_GT((*a)->mod_revision, 0);
  auto missing = client_->get("/t/none");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  auto all = client_->get_prefix("/t/");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->kvs.size(), 2u);
  EXPECT_EQ(all->kvs[0].key, "/t/a");
  EXPECT_EQ(all->kvs[1].key, "/t/b");
  auto gone = client_->remove_prefix("/t/");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->deleted, 2);
  EXPECT_TRUE(client_->get("/u")->has_value());
}

TEST_F(Etcd, CompareAndSwapConflicts) {
  // Two writers read the same revision; the first swap wins, the second is told it lost.
  ASSERT_TRUE(client_->put("/cas", "v1"));
  auto read = client_->get("/cas");
  ASSERT_TRUE(read && read->has_value());
  int64_t seen = (*read)->mod_revision;
  auto swap = [&](const std::string& value) {
    return client_->txn(Txn{{Compare::mod_revision_is("/cas", seen)}, {Operation::put("/cas", value)}, {Operation::get("/cas")}});
  };
  auto first = swap("writer-1");
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_TRUE(first->succeeded);
  auto second = swap("writer-2");
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->responses.size(), 1u);
  ASSERT_EQ(second->responses[0].range.kvs.size(), 1u);
  EXPECT_EQ(second->responses[0].range.kvs[0].value, "writer-1");  // the failure branch shows the winner
  // Create-if-absent: once only.
  Txn create{{Compare::absent("/once")}, {Operation::put("/once", "x")}, {}};
  EXPECT_TRUE(client_->txn(create)->succeeded);
  EXPECT_FALSE(client_->txn(create)->succeeded);
}

TEST_F(Etcd, LeaseExpiryDeletesKeys) {
  auto lease = client_->grant(1);
  ASSERT_TRUE(lease) << lease.error().to_string();
  ASSERT_TRUE(client_->put("/leased", "x", lease->id));
  auto kept = client_->keepalive(lease->id);
  ASSERT_TRUE(kept) << kept.error().to_string();
  EXPECT_GE(kept->ttl, 1);  // etcd raises TTLs below its minimum (2 s with default timings)
  EXPECT_TRUE(client_->get("/leased")->has_value());
  // etcd expires a lease within about a second of its TTL.
  for (int i = 0; i < 50 && client_->get("/leased")->has_value(); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(client_->get("/leased")->has_value());
  auto dead = client_->keepalive(lease->id);
  ASSERT_TRUE(dead) << dead.error().to_string();
  EXPECT_EQ(dead->ttl, 0);  // the lease is gone
  // Revoking deletes at once.
  auto other = client_->grant(60);
  ASSERT_TRUE(other);
  ASSERT_TRUE(client_->put("/revoked", "x", other->id));
  ASSERT_TRUE(client_->revoke(other->id));
  EXPECT_FALSE(client_->get("/revoked")->has_value());
  auto again = client_->revoke(other->id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errnum(), ENOENT) << again.error().to_string();
}

TEST_F(Etcd, WatchSeesChanges) {
  std::atomic<bool> stop{false};
  std::vector<WatchEvent> seen;
  std::atomic<bool> created{false};
  Result<void> result;
  std::thread watcher([&] {
    WatchRequest w{"/w/", prefix_end("/w/"), 0, [&] { return stop.load(); }};
    result = client_->watch(w, [&](const WatchMessage& m) {
      if (m.created) created = true;
      for (const auto& e : m.events) seen.push_back(e);
      return seen.size() < 3;
    });
  });
  for (int i = 0; i < 100 && !created; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(created);
  ASSERT_TRUE(client_->put("/w/1", "a"));
  ASSERT_TRUE(client_->put("/elsewhere", "b"));
  ASSERT_TRUE(client_->put("/w/1", "c"));
  ASSERT_TRUE(client_->remove("/w/1"));
  watcher.join();
  ASSERT_TRUE(result) << result.error().to_string();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].kv.value, "a");
  EXPECT_EQ(seen[1].kv.value, "c");
  EXPECT_EQ(seen[2].type, WatchEvent::Type::Delete);
  EXPECT_EQ(seen[2].kv.key, "/w/1");
}

TEST_F(Etcd, WatchFromAnOldRevisionAndCancel) {
  auto first = client_->put("/h", "1");
  ASSERT_TRUE(first);
  ASSERT_TRUE(client_->put("/h", "2"));
  std::vector<std::string> values;
  std::atomic<bool> stop{false};
  Result<void> result;
  std::thread watcher([&] {
    result = client_->watch(WatchRequest{"/h", {}, first->revision, [&] { return stop.load(); }}, [&](const WatchMessage& m) {
      for (const auto& e : m.events) values.push_back(e.kv.value);
      return true;
    });
  });
  for (int i = 0; i < 100 && values.size() < 2; ++i) std::this_thread::sleep_for(20ms);
  stop = true;
  watcher.join();
  EXPECT_EQ(values, (std::vector<std::string>{"1", "2"}));  // history replayed
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().errnum(), ECANCELED) << result.error().to_string();
}

TEST_F(Etcd, ElectionHasOneLeaderAndResignPassesIt) {
  auto lease_a = client_->grant(30), lease_b = client_->grant(30);
  ASSERT_TRUE(lease_a && lease_b);
  auto a = client_->campaign("sched", lease_a->id, "node-a", 5s);
  ASSERT_TRUE(a) << a.error().to_string();
  // B waits while A leads.
  std::atomic<bool> b_leads{false};
  Result<LeaderKey> b = fail(EINVAL, "not yet");
  std::thread campaigner([&] {
    b = client_->campaign("sched", lease_b->id, "node-b", 20s);
    b_leads = true;
  });
  std::this_thread::sleep_for(700ms);
  EXPECT_FALSE(b_leads);
  auto leader = client_->leader("sched");
  ASSERT_TRUE(leader && leader->has_value()) << (leader ? "no leader" : leader.error().to_string());
  EXPECT_EQ((*leader)->value, "node-a");
  ASSERT_TRUE(client_->proclaim(*a, "node-a v2"));
  EXPECT_EQ((*client_->leader("sched"))->value, "node-a v2");
  ASSERT_TRUE(client_->resign(*a));
  campaigner.join();
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_EQ((*client_->leader("sched"))->value, "node-b");
  // A campaign that cannot win in time says so.
  auto late = client_->campaign("sched", lease_a->id, "node-a", 800ms);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().errnum(), ETIMEDOUT) << late.error().to_string();
  EXPECT_FALSE(client_->leader("none")->has_value());
}

TEST(EtcdDown, ClearErrors) {
  int port = test::free_tcp_port();
  auto c = Client::create(ClientConfig{{"http://127.0.0.1:" + std::to_string(port)}, 1000ms});
  ASSERT_TRUE(c);
  auto r = (*c)->get("/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EHOSTUNREACH);
  EXPECT_NE(r.error().to_string().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << r.error().to_string();
  EXPECT_NE(r.error().hint().find("etcd running"), std::string::npos);
  EXPECT_FALSE(Client::create(ClientConfig{{"127.0.0.1:2379"}}));
  EXPECT_FALSE(Client::parse_endpoints(" ,"));
}

TEST_F(Etcd, FailsOverToTheNextEndpointAndTimesOut) {
  auto c = Client::create(ClientConfig{{"http://127.0.0.1:" + std::to_string(test::free_tcp_port()), server_.url()}});
  ASSERT_TRUE(c);
  EXPECT_TRUE((*c)->put("/k", "v"));
  // A server that accepts but never answers: the call times out.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto silent = Client::create(ClientConfig{{"http://127.0.0.1:" + std::to_string(ntohs(a.sin_port))}, 300ms});
  auto t0 = std::chrono::steady_clock::now();
  auto r = (*silent)->get("/k");
  ::close(fd);
  ASSERT_FALSE(r);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(r.error().errnum(), ETIMEDOUT) << r.error().to_string();
  EXPECT_NE(r.error().to_string().find("no answer within 300 ms"), std::string::npos) << r.error().to_string();
}

}  // namespace
}  // namespace vessel::cluster::etcd
