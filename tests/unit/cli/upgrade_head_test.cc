// The CLI's reading of vesseld's answer to an Upgrade request.
#include <gtest/gtest.h>

#include "cli/upgrade.h"

namespace vessel::cli {
namespace {

TEST(UpgradeHead, SwitchingProtocolsAndErrors) {
  auto ok = parse_response_head("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: vessel-stream");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 101);
  auto err = parse_response_head("HTTP/1.1 409 Conflict\r\ncontent-LENGTH: 57\r\nContent-Type: application/json");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->status, 409);
  EXPECT_EQ(err->content_length, 57);
}

TEST(UpgradeHead, GarbageIsRefused) {
  EXPECT_FALSE(parse_response_head("").has_value());
  EXPECT_FALSE(parse_response_head("SSH-2.0-OpenSSH").has_value());
  EXPECT_FALSE(parse_response_head("HTTP/1.1 9999 What").has_value());
  EXPECT_FALSE(parse_response_head("HTTP/1.1").has_value());
}

TEST(UpgradeHead, NoDaemonIsAClearError) {
  auto r = open_upgraded("/nonexistent/vessel.sock", {}, "GET", "/v1/instances/x/console");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().to_string().find("cannot reach vesseld"), std::string::npos);
  EXPECT_FALSE(r.error().hint().empty());
}

TEST(UpgradeHead, ARemoteWithoutItsCertificateIsRefusedBeforeConnecting) {
  Remote remote;
  remote.url = "https://127.0.0.1:1";
  auto r = open_upgraded("/nonexistent/vessel.sock", remote, "POST", "/v1/instances/x/exec", "{}");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().to_string().find("client certificate"), std::string::npos) << r.error().to_string();
}

}  // namespace
}  // namespace vessel::cli
