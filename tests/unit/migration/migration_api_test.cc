// PUT /migration/send and /migration/receive without KVM: bodies parsed into actions (or refused
// with their reason), and the VMM thread's answers in states where no migration can run.
#include <gtest/gtest.h>

#include <variant>

#include "vmm/api/api_server.h"
#include "vmm/vmm.h"

namespace vessel::vmm {
namespace {

struct Call {
  http::Response response;
  std::optional<VmmAction> action;
};

Call put(const std::string& path, const std::string& body) {
  Call c;
  ApiController api([&](VmmAction a) -> VmmReply {
    c.action = a;
    return std::nullopt;
  });
  http::Request r;
  r.method = "PUT";
  r.path = path;
  r.body = body;
  c.response = api.handle(r);
  return c;
}

TEST(MigrationApi, SendBodies) {
  auto c = put("/migration/send", R"({"destination_url": "unix:/run/in.sock"})");
  EXPECT_EQ(c.response.status, 204);
  ASSERT_TRUE(c.action && std::holds_alternative<action::SendMigration>(*c.action));
  auto s = std::get<action::SendMigration>(*c.action);
  EXPECT_EQ(s.destination_url, "unix:/run/in.sock");
  EXPECT_EQ(s.downtime_ms, 50u);
  EXPECT_EQ(s.max_rounds, 16u);
  c = put("/migration/send", R"({"destination_url": "tcp:10.0.0.2:7000", "downtime_ms": 20, "max_rounds": 3})");
  ASSERT_TRUE(c.action);
  s = std::get<action::SendMigration>(*c.action);
  EXPECT_EQ(s.downtime_ms, 20u);
  EXPECT_EQ(s.max_rounds, 3u);
  EXPECT_FALSE(s.token);
  c = put("/migration/send", R"({"destination_url": "tcp:10.0.0.2:7000", "token": ")" + std::string(64, 'a') + "\"}");
  ASSERT_TRUE(c.action) << c.response.body;
  s = std::get<action::SendMigration>(*c.action);
  ASSERT_TRUE(s.token);
  EXPECT_EQ(s.token->bytes[31], 0xaa);
  for (const char* bad : {R"({})", R"({"destination_url": "/run/in.sock"})", R"({"destination_url": 3})",
                          R"({"destination_url": "unix:/x", "token": "abc"})",
                          R"({"destination_url": "unix:/x", "token": 7})",
                          R"({"destination_url": "unix:/x", "downtime_ms": 0})",
                          R"({"destination_url": "unix:/x", "max_rounds": -1})",
                          R"({"destination_url": "unix:/x", "local": true})", "[]", ""}) {
    auto b = put("/migration/send", bad);
    EXPECT_EQ(b.response.status, 400) << bad;
    EXPECT_FALSE(b.action) << bad;
  }
}

TEST(MigrationApi, ReceiveBodies) {
  auto c = put("/migration/receive", R"({"receiver_url": "unix:/run/in.sock"})");
  EXPECT_EQ(c.response.status, 204);
  ASSERT_TRUE(c.action && std::holds_alternative<action::ReceiveMigration>(*c.action));
  EXPECT_EQ(std::get<action::ReceiveMigration>(*c.action).receiver_url, "unix:/run/in.sock");
  EXPECT_FALSE(std::get<action::ReceiveMigration>(*c.action).token);
  c = put("/migration/receive", R"({"receiver_url": "tcp:10.0.0.2:7000", "token": ")" + std::string(64, 'B') + "\"}");
  ASSERT_TRUE(c.action) << c.response.body;
  ASSERT_TRUE(std::get<action::ReceiveMigration>(*c.action).token);
  EXPECT_EQ(std::get<action::ReceiveMigration>(*c.action).token->bytes[0], 0xbb);
  auto bad_token = put("/migration/receive", R"({"receiver_url": "unix:/x", "token": ")" + std::string(64, 'g') + "\"}");
  EXPECT_EQ(bad_token.response.status, 400);
  EXPECT_NE(bad_token.response.body.find("hex digits only"), std::string::npos) << bad_token.response.body;
  for (const char* bad : {R"({})", R"({"receiver_url": "http://x"})", R"({"receiver_url": "unix:/x", "x": 1})"})
    EXPECT_EQ(put("/migration/receive", bad).response.status, 400) << bad;
}

TEST(MigrationApi, TheVmmRefusesWhatCannotRun) {
  auto vmm = Vmm::create(VmConfig{}, VmmOptions{MachineOptions{-1}, {}, {}});
  ASSERT_TRUE(vmm);
  auto sent = (*vmm)->handle(action::SendMigration{"unix:/nonexistent/in.sock"});
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().to_string().find("not started"), std::string::npos) << sent.error().to_string();
  // A process that has a boot source is not fresh: it cannot receive a VM.
  ASSERT_TRUE((*vmm)->handle(action::SetBootSource{BootSource{"/vmlinux", std::nullopt, ""}}));
  auto received = (*vmm)->handle(action::ReceiveMigration{"unix:/nonexistent/in.sock"});
  ASSERT_FALSE(received);
  EXPECT_NE(received.error().to_string().find("boot source"), std::string::npos) << received.error().to_string();
}

}  // namespace
}  // namespace vessel::vmm
