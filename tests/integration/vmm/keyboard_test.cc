// Ctrl+Alt+Del on the i8042 keyboard: the API's SendCtrlAltDel and SIGTERM type it, the test-kit
// guest ctrl_alt_del takes IRQ 1 through the IOAPIC, reads one scan code per interrupt and exits
// 0 when the bytes are right (set 2, or set 1 when it turned on the controller's translation).
#include <signal.h>

#include "http/http.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

http::ClientResponse api_call(const std::string& sock, const std::string& method, const std::string& path,
                              const std::string& body) {
  http::ClientOptions o;
  o.unix_socket = sock;
  o.timeout = std::chrono::seconds(10);
  auto r = http::request(o, method, "http://localhost" + path, body);
  EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
  return r.value_or(http::ClientResponse{});
}

void expect_received(const VmmResult& r, const char* codes) {
  EXPECT_EQ(r.status.code, 0) << r.errors << r.console;
  EXPECT_NE(r.console.find(codes), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("ctrl-alt-del received"), std::string::npos) << r.console;
  EXPECT_EQ(r.metrics["exit"]["kind"], "debug-exit");
}

class SendCtrlAltDel : public ::testing::TestWithParam<bool> {};

TEST_P(SendCtrlAltDel, ThroughTheApiReachesTheGuestOnIrq1) {
  bool xlate = GetParam();
  TempDir sockdir;
  std::string sock = sockdir.file("api.sock");
  VmmProcess vmm({"--api-sock", sock, "--kernel", guest("ctrl_alt_del.elf"), "--cmdline", xlate ? "xlate" : "set2"});
  ASSERT_TRUE(vmm.wait_for_console("kbd ready", std::chrono::seconds(30))) << vmm.console() << vmm.errors();
  auto r = api_call(sock, "PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})");
  EXPECT_EQ(r.status, 204) << r.body;
  auto result = vmm.finish(std::chrono::seconds(30));
  expect_received(result, xlate ? "kbd codes 1d 38 e0 53" : "kbd codes 14 11 e0 71");
}

INSTANTIATE_TEST_SUITE_P(ScanCodeSets, SendCtrlAltDel, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Set1Translated") : std::string("Set2"); });

TEST(Keyboard, SigtermTypesCtrlAltDelAndTheGuestStopsBeforeTheTimeout) {
  VmmProcess vmm({"--kernel", guest("ctrl_alt_del.elf"), "--shutdown-timeout", "30"});
  ASSERT_TRUE(vmm.wait_for_console("kbd ready", std::chrono::seconds(30))) << vmm.console() << vmm.errors();
  ASSERT_TRUE(vmm.process().signal(SIGTERM));
  auto result = vmm.finish(std::chrono::seconds(60));
  // Status 0 from the guest, not 143: it stopped by itself before the 30 s forced stop.
  expect_received(result, "kbd codes 14 11 e0 71");
}

TEST(Keyboard, SendCtrlAltDelBeforeStartIsRefused) {
  TempDir sockdir;
  std::string sock = sockdir.file("api.sock");
  VmmProcess vmm({"--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  auto r = api_call(sock, "PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("not running"), std::string::npos) << r.body;
  ASSERT_TRUE(vmm.process().signal(SIGTERM));
  auto result = vmm.finish(std::chrono::seconds(10));
  EXPECT_EQ(result.status.code, 128 + SIGTERM);
}

}  // namespace
}  // namespace vessel::vmm::test
