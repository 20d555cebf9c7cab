// Node records and the flags that make them (src/cluster/node_record.h).
#include "cluster/node_record.h"

#include <gtest/gtest.h>

namespace vessel::cluster {
namespace {

TEST(NodeRecord, NamesAreDnsLabels) {
  for (std::string good : std::vector<std::string>{"a", "node-1", "n0de", std::string(63, 'x')})
    EXPECT_TRUE(check_node_name(good)) << good;
  for (std::string bad : std::vector<std::string>{"", "-a", "a-", "Node", "a_b", "a.b", std::string(64, 'x'), "a/b"}) {
    auto r = check_node_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().errnum(), EINVAL);
  }
}

TEST(NodeRecord, Labels) {
  auto l = parse_labels("zone=a,disk=ssd,,team/x=1.2_b-c");
  ASSERT_TRUE(l) << l.error().to_string();
  EXPECT_EQ(l->size(), 3u);
  EXPECT_EQ(l->at("team/x"), "1.2_b-c");
  EXPECT_TRUE(parse_labels("")->empty());
  EXPECT_TRUE(parse_labels("empty=")) << "an empty value is a value";
  for (const char* bad : {"novalue", "=v", "a=b c", "a=b;c", "k\n=v"}) EXPECT_FALSE(parse_labels(bad)) << bad;
}

TEST(NodeRecord, RoundTripAndBadRecords) {
  NodeInfo info{"node-a", "unix:///s.sock", {{"zone", "a"}}, 2.5, 4096, "0.1.0", "2026-12-06T00:00:00Z"};
  auto back = parse_node_info(json::dump(node_info_json(info)));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->name, "node-a");
  EXPECT_EQ(back->cpus, 2.5);
  EXPECT_EQ(back->memory_mib, 4096u);
  EXPECT_EQ(back->labels, info.labels);
  for (const char* bad : {"", "[]", "{}", R"({"name":1})", R"({"name":"a","cpus":"2"})", R"({"name":"a","labels":[]})",
                          R"({"name":"a","labels":{"k":1}})", R"({"name":"a","memory_mib":-1})"})
    EXPECT_FALSE(parse_node_info(bad)) << bad;
  NodeStatus s{info, true, false, 42};
  auto j = node_status_json(s);
  EXPECT_EQ(j["status"], "ready");
  EXPECT_EQ(j["lease"], "42");
  s.cordoned = true;
  EXPECT_EQ(node_status_json(s)["status"], "cordoned");
  s.ready = false;
  EXPECT_EQ(node_status_json(s)["status"], "not-ready");
}

TEST(NodeRecord, TlsIdentityRoundTripsAndMalformedOnesAreRefused) {
  NodeInfo info{"node-a", "https://10.0.0.1:8443", {}, 1, 1, "0.1.0", ""};
  EXPECT_FALSE(node_info_json(info).contains("tls")) << "a node without --listen has no identity";
  info.tls_pubkey_sha256 = std::string(64, 'a');
  info.tls_cert_sha256 = std::string(63, '0') + "f";
  auto back = parse_node_info(json::dump(node_info_json(info)));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->tls_pubkey_sha256, info.tls_pubkey_sha256);
  EXPECT_EQ(back->tls_cert_sha256, info.tls_cert_sha256);
  const std::string a64(64, 'a');
  for (const std::string& bad :
       {std::string(R"({"name":"a","tls":1})"), R"({"name":"a","tls":{"pubkey_sha256":")" + a64 + R"("}})",
        R"({"name":"a","tls":{"pubkey_sha256":")" + a64 + R"(","cert_sha256":"xyz"}})",
        R"({"name":"a","tls":{"pubkey_sha256":")" + std::string(64, 'A') + R"(","cert_sha256":")" + a64 + R"("}})",
        R"({"name":"a","tls":{"pubkey_sha256":")" + a64 + R"(","cert_sha256":")" + a64 + R"(0"}})"})
    EXPECT_FALSE(parse_node_info(bad)) << bad;
}

}  // namespace
}  // namespace vessel::cluster
