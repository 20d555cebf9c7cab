// The API and the instance manager over a fake backend (plain `sleep` processes): routing,
// status codes, 409 with the current state, exit detection, metrics. No root needed.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "base/process.h"
#include "daemon/api/router.h"
#include "daemon/instances/vm_host.h"
#include "sleeping_backend.h"
#include "api_call.h"

namespace vessel::daemon {
namespace {

class FakeBackend : public SleepingBackend {
 public:
  Result<GuestProcess> start(const InstanceContext&, const BootSource&) override {
    starts++;
    return spawn();
  }
  Result<void> preflight() override {
    if (refuse) return Unexpected(*refuse);
    return {};
  }
  int starts = 0;
  std::optional<Error> refuse;  // what preflight() answers: this host cannot run such guests
};

struct ApiOverFakeBackend : ::testing::Test {
  ApiOverFakeBackend() {
    char t[] = "/tmp/vessel-api-test.XXXXXX";
    dir = ::mkdtemp(t);
    std::filesystem::create_directories(dir + "/rootfs");
    store = std::move(*Store::open(dir + "/db"));
    images = std::make_unique<ImageStore>(*store, dir + "/images");
    ManagerConfig config{dir, "vessel-unit", Capacity{2, 4096}, Overcommit{}};
    manager = std::make_unique<Manager>(config, *store, events, *images, fake, fake);
    api = std::make_unique<Api>(*manager, *images, events, "");
  }
  ~ApiOverFakeBackend() override {
    api.reset();
    for (const auto& name : {"a", "b"}) (void)manager->remove(name, true);
    manager.reset();
    std::filesystem::remove_all(dir);
  }
  http::Response call(const std::string& method, const std::string& path, const std::string& body = "",
                      std::map<std::string, std::string> query = {}) {
    return api_call(*api, method, path, body, std::move(query));
  }
  json::Json body(const http::Response& r) { return body_of(r); }
  std::string spec(const std::string& name) { return R"({"name":")" + name + R"(","rootfs":")" + dir + R"(/rootfs","memory_mib":512})"; }

  std::string dir;
  std::unique_ptr<Store> store;
  EventBus events;
  std::unique_ptr<ImageStore> images;
  FakeBackend fake;
  std::unique_ptr<Manager> manager;
  std::unique_ptr<Api> api;
};

TEST_F(ApiOverFakeBackend, LifecycleThroughTheApi) {
  auto created = call("POST", "/v1/instances", spec("a"));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(body(created)["state"], "created");
  EXPECT_EQ(call("POST", "/v1/instances", spec("a")).status, 409);
  auto started = call("POST", "/v1/instances/a/start");
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(body(started)["state"], "running");
  int pid = body(started)["pid"];
  EXPECT_GT(pid, 0);
  EXPECT_EQ(call("POST", "/v1/instances/a/pause").status, 200);
  auto again = call("POST", "/v1/instances/a/pause");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(body(again)["state"], "paused");
  EXPECT_NE(body(again)["hint"].get<std::string>().find("already paused"), std::string::npos);
  EXPECT_EQ(call("POST", "/v1/instances/a/resume").status, 200);
  EXPECT_EQ(call("POST", "/v1/instances/a/resume").status, 409);
  auto exec = call("POST", "/v1/instances/a/exec", R"({"command":["/bin/true"]})");
  EXPECT_EQ(body(exec)["output"], "/bin/true");
  EXPECT_EQ(call("DELETE", "/v1/instances/a").status, 409);
  EXPECT_EQ(call("POST", "/v1/instances/a/stop", R"({"timeout_s":0})").status, 200);
  EXPECT_EQ(call("POST", "/v1/instances/a/stop").status, 200) << "stop is idempotent, as Docker's";
  EXPECT_EQ(call("POST", "/v1/instances/a/restart").status, 200);
  EXPECT_EQ(fake.starts, 2);
  EXPECT_EQ(call("DELETE", "/v1/instances/a", "", {{"force", "1"}}).status, 204);
  EXPECT_EQ(call("GET", "/v1/instances/a").status, 404);
}

// What vesseld answers when the host check says VMs cannot run (the fake stands for the VM
// backend here): a run fails at once with 409 and the reasons, and leaves nothing behind.
TEST_F(ApiOverFakeBackend, RunOnAHostThatCannotStartItLeavesNothing) {
  hostcheck::Report report;
  report.vm_problems = {"/dev/kvm: missing (no VMX/SVM visible, and kvm_pvm did not bind)"};
  report.vm_advice = {"run VMs on a host whose CPU shows VT-x or AMD-V", "scripts/kvm-host"};
  fake.refuse = vm_host_error(report);
  auto run = call("POST", "/v1/instances", spec("a"), {{"start", "1"}});
  EXPECT_EQ(run.status, 409) << run.body;
  EXPECT_EQ(body(run)["error"], "this host cannot run VMs: /dev/kvm: missing (no VMX/SVM visible, and kvm_pvm did not bind)");
  EXPECT_NE(body(run)["hint"].get<std::string>().find("VT-x or AMD-V; or scripts/kvm-host"), std::string::npos)
      << run.body;
  EXPECT_EQ(call("GET", "/v1/instances/a").status, 404);
  EXPECT_EQ(body(call("GET", "/v1/instances")).size(), 0u);
  EXPECT_EQ(fake.starts, 0);

  // A created instance is kept, but its start is refused the same way.
  ASSERT_EQ(call("POST", "/v1/instances", spec("a")).status, 201);
  auto start = call("POST", "/v1/instances/a/start");
  EXPECT_EQ(start.status, 409) << start.body;
  EXPECT_NE(body(start)["error"].get<std::string>().find("start a: this host cannot run VMs"), std::string::npos)
      << start.body;
  EXPECT_EQ(body(start)["state"], "created");
  EXPECT_EQ(fake.starts, 0);

  // Once the host can (say, a module was loaded), the next start works: nothing is cached.
  fake.refuse.reset();
  EXPECT_EQ(call("POST", "/v1/instances/a/start").status, 200);
  EXPECT_EQ(fake.starts, 1);
}

TEST_F(ApiOverFakeBackend, GuestExitIsNoticed) {
  ASSERT_EQ(call("POST", "/v1/instances", spec("b"), {{"start", "1"}}).status, 201);
  int pid = body(call("GET", "/v1/instances/b"))["pid"];
  ::kill(pid, SIGKILL);
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; ++i) {
    stopped = body(call("GET", "/v1/instances/b"))["state"] == "stopped";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(stopped);
}

TEST_F(ApiOverFakeBackend, RoutingErrorsAndMetrics) {
  EXPECT_EQ(call("GET", "/nothing").status, 404);
  EXPECT_EQ(call("PUT", "/v1/instances").status, 405);
  EXPECT_EQ(call("GET", "/v1/instances/..").status, 400);
  EXPECT_EQ(call("POST", "/v1/instances/a/dance").status, 404);
  EXPECT_EQ(call("POST", "/v1/instances", "{").status, 400);
  auto refused = call("POST", "/v1/instances", R"({"name":"big","rootfs":")" + dir + R"(/rootfs","memory_mib":8192})");
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(body(refused)["error"].get<std::string>().find("8192 MiB wanted > 4096 MiB allowed"), std::string::npos) << refused.body;
  auto host = body(call("GET", "/v1/host"));
  EXPECT_EQ(host["memory_mib"], 4096);
  auto metrics = call("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("vessel_api_requests_total{route=\"POST /v1/instances\",status=\"409\"} 1"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("vessel_instances 0"), std::string::npos);
}

}  // namespace
// Error texts quote names from hostile input (a tar entry's bytes, a path): invalid UTF-8 is sent
// as U+FFFD in valid JSON instead of making the JSON writer throw on the API thread.
TEST(ApiErrors, InvalidUtf8InAnErrorIsSentAsReplacementCharacters) {
  Error e(EINVAL, std::string("layer entry \"a\xff\xfe\xc3\" is refused"));
  http::Response r = Api::error_response(std::move(e).with_hint(std::string("rename \x80 first")));
  EXPECT_EQ(r.status, 400);
  auto body = json::parse(r.body);
  ASSERT_TRUE(body) << body.error().to_string() << " in " << r.body;
  std::string text = (*body)["error"].get<std::string>();
  EXPECT_NE(text.find("a\xEF\xBF\xBD"), std::string::npos) << text;
  EXPECT_EQ(text.find('\xff'), std::string::npos) << text;
  EXPECT_NE((*body)["hint"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
}

}  // namespace vessel::daemon
