// The Firecracker-compatible API on a Unix socket: configure, start, pause/resume, errors.
#include <sys/stat.h>

#include "http/http.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sock_ = sockdir_.file("api.sock");
    vmm_ = std::make_unique<VmmProcess>(std::vector<std::string>{"--api-sock", sock_});
    ASSERT_TRUE(vmm_->wait_for_file(sock_)) << vmm_->errors();
  }
  http::ClientResponse call(const std::string& method, const std::string& path, const std::string& body = {}) {
    http::ClientOptions o;
    o.unix_socket = sock_;
    o.timeout = std::chrono::seconds(10);
    auto r = http::request(o, method, "http://localhost" + path, body);
    EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
    return r.value_or(http::ClientResponse{});
  }
  std::string fault_of(const http::ClientResponse& r) {
    auto j = json::parse(r.body);
    if (!j || !j->contains("fault_message")) return "<no fault_message in: " + r.body + ">";
    return (*j)["fault_message"].get<std::string>();
  }
  TempDir sockdir_;
  std::string sock_;
  std::unique_ptr<VmmProcess> vmm_;
};

// Only root talks to a VMM: the socket is made with mode 0600 whatever the umask.
TEST_F(ApiTest, TheSocketIsForItsOwnerOnly) {
  struct stat st {};
  ASSERT_EQ(::stat(sock_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << (st.st_mode & 07777);
  EXPECT_EQ(st.st_uid, ::geteuid());
}

TEST_F(ApiTest, ConfigureStartAndRunToPoweroff) {
  EXPECT_EQ(call("GET", "/").status, 200);
  EXPECT_EQ(call("PUT", "/boot-source", json::Json{{"kernel_image_path", guest("hello.elf")}, {"boot_args", "via api"}}.dump()).status, 204);
  EXPECT_EQ(call("PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 64})").status, 204);
  auto mc = json::parse(call("GET", "/machine-config").body);
  ASSERT_TRUE(mc);
  EXPECT_EQ((*mc)["vcpu_count"], 2);
  auto cfg = json::parse(call("GET", "/vm/config").body);
  ASSERT_TRUE(cfg);
  EXPECT_EQ((*cfg)["boot-source"]["boot_args"], "via api");
  EXPECT_EQ(call("PUT", "/actions", R"({"action_type": "InstanceStart"})").status, 204);
  auto r = vmm_->finish(std::chrono::seconds(30));
  EXPECT_EQ(r.status.code, 0) << r.errors;
  EXPECT_NE(r.console.find("cmdline=[via api]"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("cpus=2"), std::string::npos) << r.console;
}

TEST_F(ApiTest, PauseStopsTheGuestAndResumeContinuesItsCounter) {
  ASSERT_EQ(call("PUT", "/boot-source", json::Json{{"kernel_image_path", guest("counter.elf")}, {"boot_args", "count=60"}}.dump()).status, 204);
  ASSERT_EQ(call("PUT", "/actions", R"({"action_type": "InstanceStart"})").status, 204);
  ASSERT_TRUE(vmm_->wait_for_console("count 3\r\n", std::chrono::seconds(30))) << vmm_->console();
  auto paused = call("PATCH", "/vm", R"({"state": "Paused"})");
  ASSERT_EQ(paused.status, 204) << paused.body;
  auto st = json::parse(call("GET", "/").body);
  EXPECT_EQ((*st)["state"], "Paused");
  std::string at_pause = vmm_->console();
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(vmm_->console(), at_pause) << "console advanced while paused";
  // The last full count line before the pause: the guest must continue from the next one.
  auto last = at_pause.rfind("count ");
  ASSERT_NE(last, std::string::npos);
  unsigned long n = std::stoul(at_pause.substr(last + 6));
  ASSERT_EQ(call("PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
  ASSERT_TRUE(vmm_->wait_for_console(fmt::format("count {}\r\n", n + 2), std::chrono::seconds(30))) << vmm_->console();
  auto r = vmm_->finish(std::chrono::seconds(60));
  EXPECT_EQ(r.status.code, 0) << r.errors;
  // Every count from 1 to 60 appears exactly once, in order.
  size_t pos = 0;
  for (int i = 1; i <= 60; ++i) {
    auto next = r.console.find(fmt::format("count {}\r\n", i), pos);
    ASSERT_NE(next, std::string::npos) << "count " << i << " missing";
    pos = next + 1;
  }
  EXPECT_NE(r.console.find("done 60"), std::string::npos);
}

TEST_F(ApiTest, BadRequestsGetFaultMessagesAndTheRightStatus) {
  auto r = call("PUT", "/boot-source", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(fault_of(r).empty());
  r = call("PUT", "/machine-config", R"({"vcpu_count": 0, "mem_size_mib": 64})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(fault_of(r).find("vcpu_count"), std::string::npos) << r.body;
  r = call("PUT", "/actions", R"({"action_type": "Explode"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(fault_of(r).find("Explode"), std::string::npos);
  r = call("PUT", "/actions", R"({"action_type": "InstanceStart"})");
  EXPECT_EQ(r.status, 400);  // no boot source yet
  EXPECT_NE(fault_of(r).find("boot source"), std::string::npos) << r.body;
  r = call("PATCH", "/vm", R"({"state": "Paused"})");
  EXPECT_EQ(r.status, 400);  // not started
  r = call("GET", "/no/such/thing");
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(fault_of(r).empty());
  r = call("DELETE", "/boot-source");
  EXPECT_EQ(r.status, 405);
  r = call("PUT", "/drives/rootfs", R"({"drive_id": "other", "path_on_host": "/x"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(fault_of(r).find("does not match"), std::string::npos);
  // Firecracker drive fields vessel-vmm does not do are refused, naming the field.
  r = call("PUT", "/drives/d", R"({"drive_id": "d", "path_on_host": "/x", "rate_limiter": {"ops": {"size": 10}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(fault_of(r).find("drive.rate_limiter.ops.refill_time"), std::string::npos) << r.body;
  r = call("PUT", "/drives/d", R"({"drive_id": "d", "path_on_host": "/x", "io_engine": "Async"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(fault_of(r).find("drive.io_engine: \"Async\" (io_uring) is not supported yet"), std::string::npos) << r.body;
  r = call("PUT", "/drives/d", R"({"drive_id": "d", "path_on_host": "/x", "partuuid": "abcd-01"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(fault_of(r).find("drive.partuuid"), std::string::npos) << r.body;
  r = call("PUT", "/drives/d", R"({"drive_id": "d", "path_on_host": "/x", "cache_type": "Unsafe", "io_engine": "Sync"})");
  EXPECT_EQ(r.status, 204) << r.body;
  r = call("GET", "/vm/config");
  EXPECT_NE(r.body.find("cache_type"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("Unsafe"), std::string::npos) << r.body;
  std::string huge(200 << 10, ' ');
  r = call("PUT", "/boot-source", huge);
  EXPECT_EQ(r.status, 413);
  // Still serving after all that.
  EXPECT_EQ(call("GET", "/").status, 200);
}

}  // namespace
}  // namespace vessel::vmm::test
