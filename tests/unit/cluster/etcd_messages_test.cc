// Parsing etcd's gateway answers and building its requests, without an etcd.
#include "cluster/etcd_messages.h"

#include <gtest/gtest.h>

#include "cluster/etcd_txn.h"

namespace vessel::cluster::etcd {
namespace {

json::Json parse(std::string_view text) { return *json::parse(text); }

TEST(EtcdMessages, RangeDecodesBase64AndStringIntegers) {
  auto r = parse_range(parse(R"({"header":{"revision":"7"},"kvs":[{"key":"Zm9v","create_revision":"2",
      "mod_revision":"5","version":"3","value":"YmFy","lease":"42"}],"count":"1"})"));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->revision, 7);
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].key, "foo");
  EXPECT_EQ(r->kvs[0].value, "bar");
  EXPECT_EQ(r->kvs[0].mod_revision, 5);
  EXPECT_EQ(r->kvs[0].lease, 42);
  auto empty = parse_range(parse(R"({"header":{"revision":"2"}})"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->kvs.empty());
}

TEST(EtcdMessages, BadFieldsAreProtocolErrors) {
  for (const char* text : {R"({"kvs":[{"key":"!!"}]})", R"({"kvs":{}})", R"({"count":"12x"})", R"({"count":true})",
                           R"([1])", R"({"header":{"revision":[]}})", R"({"kvs":[5]})"}) {
    auto r = parse_range(parse(text));
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().errnum(), EPROTO) << text;
  }
  EXPECT_FALSE(parse_lease_grant(parse(R"({"TTL":"5"})")));
  EXPECT_FALSE(parse_campaign(parse(R"({"leader":{}})")));
}

TEST(EtcdMessages, TxnResponsesInOrder) {
  auto t = parse_txn(parse(R"({"header":{"revision":"9"},"succeeded":true,"responses":[{"response_put":{"header":{}}},
      {"response_range":{"kvs":[{"key":"YQ==","value":"Yg=="}]}},{"response_delete_range":{"deleted":"2"}}]})"));
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_TRUE(t->succeeded);
  ASSERT_EQ(t->responses.size(), 3u);
  EXPECT_EQ(t->responses[0].kind, TxnResponse::Kind::Put);
  EXPECT_EQ(t->responses[1].range.kvs[0].value, "b");
  EXPECT_EQ(t->responses[2].deleted, 2);
  EXPECT_FALSE(parse_txn(parse(R"({"responses":[{"response_other":{}}]})")));
}

TEST(EtcdMessages, StreamMessagesAndErrors) {
  auto w = parse_watch(parse(R"({"result":{"header":{"revision":"4"},"events":[{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"4"}},
      {"kv":{"key":"Zm9v","value":"YjI="}}]}})"));
  ASSERT_TRUE(w) << w.error().to_string();
  ASSERT_EQ(w->events.size(), 2u);
  EXPECT_EQ(w->events[0].type, WatchEvent::Type::Delete);
  EXPECT_EQ(w->events[1].type, WatchEvent::Type::Put);
  EXPECT_EQ(w->events[1].kv.value, "b2");
  auto err = parse_watch(parse(R"({"error":{"grpc_code":11,"http_code":400,"message":"mvcc: required revision has been compacted"}})"));
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().errnum(), ERANGE);
  EXPECT_NE(err.error().message().find("compacted"), std::string::npos);
  auto gone = parse_keepalive(parse(R"({"result":{"header":{},"ID":"1234"}})"));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->ttl, 0);
  Error e = error_of(404, R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})");
  EXPECT_EQ(e.errnum(), ENOENT);
  EXPECT_EQ(e.message(), "etcd: etcdserver: requested lease not found");
  EXPECT_EQ(error_of(502, "<html>").errnum(), EIO);
}

// The answers of a member while the members elect a leader are asked again elsewhere; every other
// error answer is the caller's (etcd_client.cc).
TEST(EtcdMessages, OnlyElectionAnswersAreAskedElsewhere) {
  EXPECT_TRUE(is_election_answer(R"({"error":"etcdserver: leader changed","message":"etcdserver: leader changed","code":14})"));
  EXPECT_TRUE(is_election_answer(R"({"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14})"));
  EXPECT_TRUE(is_election_answer(R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})"));
  EXPECT_EQ(error_of(503, R"({"message":"etcdserver: leader changed","code":14})").errnum(), EAGAIN);
  // UNAVAILABLE, but a write may still be applied after it: not asked again.
  EXPECT_FALSE(is_election_answer(R"({"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14})"));
  EXPECT_FALSE(is_election_answer(R"({"message":"etcdserver: request timed out, possibly due to previous leader failure","code":14})"));
  // The same words with another code, or no code: the caller's.
  EXPECT_FALSE(is_election_answer(R"({"error":"election: no leader","message":"election: no leader","code":2})"));
  EXPECT_FALSE(is_election_answer(R"({"message":"etcdserver: leader changed","code":9})"));
  EXPECT_FALSE(is_election_answer(R"({"message":"etcdserver: leader changed"})"));
  EXPECT_FALSE(is_election_answer(R"({"message":"etcdserver: leader changed","code":"14"})"));
  EXPECT_FALSE(is_election_answer(R"({"message":"etcdserver: no leader, says a proxy","code":14})"));
  // NOT_FOUND, a compacted revision, a failed precondition: returned as they are.
  EXPECT_FALSE(is_election_answer(R"({"message":"etcdserver: requested lease not found","code":5})"));
  EXPECT_FALSE(is_election_answer(R"({"error":{"grpc_code":11,"message":"mvcc: required revision has been compacted"}})"));
  EXPECT_FALSE(is_election_answer(R"({"message":"etcdserver: requested lease not found","code":9})"));
  // Not an etcd answer at all.
  EXPECT_FALSE(is_election_answer("<html>etcdserver: leader changed</html>"));
  EXPECT_FALSE(is_election_answer(""));
  EXPECT_FALSE(is_election_answer("[14]"));
}

TEST(EtcdMessages, LineSplitterJoinsChunksAndBoundsLines) {
  LineSplitter lines(16);
  ASSERT_TRUE(lines.append("{\"a\":1}\n{\"b\""));
  EXPECT_EQ(lines.next(), "{\"a\":1}");
  EXPECT_EQ(lines.next(), std::nullopt);
  ASSERT_TRUE(lines.append(":2}\r\n\n"));
  EXPECT_EQ(lines.next(), "{\"b\":2}");
  EXPECT_EQ(lines.next(), std::nullopt);
  EXPECT_FALSE(lines.append(std::string(40, 'x')));
}

TEST(EtcdTxn, RequestBodyAndPrefixEnd) {
  Txn t{{Compare::mod_revision_is("k", 5), Compare::absent("n"), Compare::value_is("v", "x")},
        {Operation::put("k", "new", 7)},
        {Operation::get("k"), Operation::remove("k")}};
  auto j = txn_request(t);
  EXPECT_EQ(j["compare"][0]["target"], "MOD");
  EXPECT_EQ(j["compare"][0]["mod_revision"], "5");
  EXPECT_EQ(j["compare"][1]["target"], "CREATE");
  EXPECT_EQ(j["compare"][1]["create_revision"], "0");
  EXPECT_EQ(j["compare"][2]["value"], "eA==");
  EXPECT_EQ(j["success"][0]["request_put"]["lease"], "7");
  EXPECT_TRUE(j["failure"][1].contains("request_delete_range"));
  EXPECT_EQ(prefix_end("/a/"), "/a0");
  EXPECT_EQ(prefix_end("a\xff"), "b");
  EXPECT_EQ(prefix_end("\xff"), std::string(1, '\0'));
}

}  // namespace
}  // namespace vessel::cluster::etcd
