// The etcd client over a 3-member etcd cluster (docs/cluster.md#the-etcd-client): a member that
// is gone (connection refused) or frozen (no answer) costs at most one call's timeout; the client
// gets its answer from another member and keeps using it; a lease is kept alive through any
// member. While the others elect a leader, their answers are etcd's errors: those are retried.
// A member that answers "leader changed" or "no leader" is passed over for the next one within
// the call; any other error answer is returned as it is.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "free_tcp_port.h"
#include "cluster/etcd_client.h"
#include "etcd_cluster.h"
#include "http/http.h"

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

// A member that answers every request with one of etcd's error answers (HTTP 503 or 404 and
// the gateway's JSON body), as a member does while the members elect a leader; counts requests.
class AnsweringMember {
 public:
  AnsweringMember(int status, std::string body) {
    int port = 0;
    int fd = test::loopback_listener(port);
    if (fd < 0) return;
    url_ = fmt::format("http://127.0.0.1:{}", port);
    auto server = http::Server::listen_fd(fd, [this, status, body](const http::Request&) {
      ++requests_;
      return http::Response::json(status, body);
    });
    if (server) server_ = std::move(*server);
  }
  bool ok() const { return server_ != nullptr; }
  const std::string& url() const { return url_; }
  int requests() const { return requests_.load(); }

 private:
  std::string url_;
  std::atomic<int> requests_{0};
  std::unique_ptr<http::Server> server_;
};

constexpr const char* kLeaderChanged = R"({"error":"etcdserver: leader changed","message":"etcdserver: leader changed","code":14})";
constexpr const char* kNoLeader = R"({"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14})";
constexpr const char* kTimedOut = R"({"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14})";
constexpr const char* kLeaseNotFound =
    R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})";

TEST(EtcdClusterClient, AsksTheNextMemberOnlyWhileOneHasNoLeader) {
  test::EtcdCluster etcd;
  std::string error;
  ASSERT_TRUE(etcd.start(3, loopback_address, &error)) << error;
  auto members = Client::parse_endpoints(etcd.urls());
  ASSERT_TRUE(members);
  auto with_first = [&](const AnsweringMember& first, std::vector<std::string> rest) {
    rest.insert(rest.begin(), first.url());
    auto c = Client::create(ClientConfig{rest, 2000ms});
    EXPECT_TRUE(c);
    return std::move(*c);
  };

  // "leader changed": the real members are asked within the same call, and kept.
  AnsweringMember changed(503, kLeaderChanged);
  ASSERT_TRUE(changed.ok());
  auto client = with_first(changed, *members);
  auto put = client->put("/t/elected", "yes");
  ASSERT_TRUE(put) << put.error().to_string();
  EXPECT_EQ(changed.requests(), 1);
  auto got = client->get("/t/elected");
  ASSERT_TRUE(got && got->has_value()) << (got ? "no key" : got.error().to_string());
  EXPECT_EQ((*got)->value, "yes");
  EXPECT_EQ(changed.requests(), 1) << "the member that answered is kept";

  // Every member electing: each asked once, the last answer returned as etcd's (EAGAIN).
  AnsweringMember none(503, kNoLeader);
  ASSERT_TRUE(none.ok());
  auto electing = with_first(none, {changed.url()});
  auto failed = electing->get("/t/elected");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().errnum(), EAGAIN) << failed.error().to_string();
  EXPECT_NE(failed.error().to_string().find("leader changed"), std::string::npos) << failed.error().to_string();
  EXPECT_EQ(none.requests(), 1);
  EXPECT_EQ(changed.requests(), 2);

  // Other answers stand as they are, although a real member would have answered: "request timed
  // out" (a write may still be applied) and NOT_FOUND.
  AnsweringMember timed_out(503, kTimedOut);
  ASSERT_TRUE(timed_out.ok());
  auto stands = with_first(timed_out, *members);
  auto refused = stands->put("/t/timed-out", "no");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().to_string().find("request timed out"), std::string::npos) << refused.error().to_string();
  EXPECT_EQ(timed_out.requests(), 1);
  auto real = Client::create(ClientConfig{*members, 2000ms});
  ASSERT_TRUE(real);
  auto absent = (*real)->get("/t/timed-out");
  ASSERT_TRUE(absent) << absent.error().to_string();
  EXPECT_FALSE(absent->has_value()) << "no other member was asked";
  AnsweringMember not_found(404, kLeaseNotFound);
  ASSERT_TRUE(not_found.ok());
  auto lease = (*real)->grant(5);
  ASSERT_TRUE(lease) << lease.error().to_string();
  auto kept = with_first(not_found, *members)->keepalive(lease->id);
  ASSERT_FALSE(kept);
  EXPECT_EQ(kept.error().errnum(), ENOENT) << kept.error().to_string();
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
