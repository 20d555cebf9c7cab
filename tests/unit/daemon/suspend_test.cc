// Suspend, checkpoint and restore through the API and the manager over a fake backend whose
// save() ends the guest process: the states, that a saved instance holds no reservation, that
// resume admits it again (or refuses clearly), that the state survives a new manager.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "base/process.h"
#include "daemon/api/router.h"
#include "sleeping_backend.h"
#include "api_call.h"

namespace vessel::daemon {
namespace {

class SavingBackend : public SleepingBackend {
 public:
  Result<void> save(const InstanceContext& ctx, const GuestProcess& proc, const SaveOptions& o) override {
    if (refuse_save) return fail(EIO, "criu dump failed");
    ++saves;
    TRY(write_file(ctx.dir + "/saved", "state"));
    if (!o.leave_running) (void)proc.signal(SIGKILL);  // as CRIU and vessel-vmm end it
    return {};
  }
  Result<GuestProcess> restore_saved(const InstanceContext& ctx, const BootSource&) override {
    if (!std::filesystem::exists(ctx.dir + "/saved")) return fail(ENOENT, "nothing saved");
    ++restores;
    discard_saved(ctx);
    return spawn();
  }
  void discard_saved(const InstanceContext& ctx) override {
    std::error_code ec;
    if (std::filesystem::remove(ctx.dir + "/saved", ec)) ++discards;
  }
  int saves = 0, restores = 0, discards = 0;
  bool refuse_save = false;
};

struct SuspendOverFake : ::testing::Test {
  SuspendOverFake() {
    char t[] = "/tmp/vessel-suspend-test.XXXXXX";
    dir = ::mkdtemp(t);
    std::filesystem::create_directories(dir + "/rootfs");
    store = std::move(*Store::open(dir + "/db"));
    images = std::make_unique<ImageStore>(*store, dir + "/images");
    make_manager();
  }
  ~SuspendOverFake() override {
    api.reset();
    for (const auto& name : {"a", "b"}) (void)manager->remove(name, true);
    manager.reset();
    std::filesystem::remove_all(dir);
  }
  void make_manager() {
    api.reset();
    manager.reset();
    ManagerConfig config{dir, "vessel-unit", Capacity{2, 4096}, Overcommit{}};
    manager = std::make_unique<Manager>(config, *store, events, *images, fake, fake);
    manager->reconcile();
    api = std::make_unique<Api>(*manager, *images, events, "");
  }
  http::Response call(const std::string& method, const std::string& path, const std::string& body = "",
                      std::map<std::string, std::string> query = {}) {
    return api_call(*api, method, path, body, std::move(query));
  }
  json::Json body(const http::Response& r) { return body_of(r); }
  std::string spec(const std::string& name, int mib) {
    return R"({"name":")" + name + R"(","rootfs":")" + dir + R"(/rootfs","memory_mib":)" + std::to_string(mib) + "}";
  }
  std::string state(const std::string& name) { return body(call("GET", "/v1/instances/" + name))["state"]; }

  std::string dir;
  std::unique_ptr<Store> store;
  EventBus events;
  std::unique_ptr<ImageStore> images;
  SavingBackend fake;
  std::unique_ptr<Manager> manager;
  std::unique_ptr<Api> api;
};

TEST_F(SuspendOverFake, CheckpointRestoreAndTheStateSurvivesANewManager) {
  ASSERT_EQ(call("POST", "/v1/instances", spec("a", 512), {{"start", "1"}}).status, 201);
  int pid = body(call("GET", "/v1/instances/a"))["pid"];
  auto ck = call("POST", "/v1/instances/a/checkpoint");
  ASSERT_EQ(ck.status, 200) << ck.body;
  EXPECT_EQ(body(ck)["state"], "checkpointed");
  EXPECT_EQ(body(ck)["pid"], 0);
  EXPECT_EQ(fake.saves, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(state("a"), "checkpointed") << "the guest's end is no exit";
  EXPECT_TRUE(body(call("GET", "/v1/instances/a"))["exit_code"].is_null());
  // The guest process is gone (or a zombie of this test, its parent).
  auto status = read_file("/proc/" + std::to_string(pid) + "/status").value_or("");
  EXPECT_TRUE(status.empty() || status.find("State:\tZ") != std::string::npos) << status;
  // Wrong states answer 409 with the state.
  auto start = call("POST", "/v1/instances/a/start");
  EXPECT_EQ(start.status, 409);
  EXPECT_EQ(body(start)["state"], "checkpointed");
  EXPECT_EQ(call("POST", "/v1/instances/a/pause").status, 409);
  EXPECT_EQ(call("POST", "/v1/instances/a/checkpoint").status, 409);
  EXPECT_EQ(call("POST", "/v1/instances/a/exec", R"({"command":["/bin/true"]})").status, 409);

  make_manager();  // vesseld restarted: nothing to adopt, still saved
  EXPECT_EQ(state("a"), "checkpointed");
  auto rs = call("POST", "/v1/instances/a/restore");
  ASSERT_EQ(rs.status, 200) << rs.body;
  EXPECT_EQ(body(rs)["state"], "running");
  EXPECT_GT(body(rs)["pid"].get<int>(), 0);
  EXPECT_EQ(fake.restores, 1);
  EXPECT_EQ(call("POST", "/v1/instances/a/restore").status, 409);

  // suspend = checkpoint for a container; resume brings it back.
  ASSERT_EQ(call("POST", "/v1/instances/a/suspend").status, 200);
  EXPECT_EQ(state("a"), "checkpointed");
  ASSERT_EQ(call("POST", "/v1/instances/a/resume").status, 200);
  EXPECT_EQ(state("a"), "running");
  EXPECT_EQ(fake.restores, 2);
}

TEST_F(SuspendOverFake, LeaveRunningStopDiscardsAndFailedSaveKeepsRunning) {
  ASSERT_EQ(call("POST", "/v1/instances", spec("a", 512), {{"start", "1"}}).status, 201);
  int pid = body(call("GET", "/v1/instances/a"))["pid"];
  auto ck = call("POST", "/v1/instances/a/checkpoint", R"({"leave_running":true})");
  ASSERT_EQ(ck.status, 200) << ck.body;
  EXPECT_EQ(body(ck)["state"], "running");
  EXPECT_EQ(body(ck)["pid"], pid);
  EXPECT_EQ(call("POST", "/v1/instances/a/checkpoint", R"({"leave_running":"yes"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/instances/a/checkpoint", R"({"other":1})").status, 400);
  EXPECT_EQ(call("POST", "/v1/instances/a/suspend", R"({"x":1})").status, 400);

  fake.refuse_save = true;
  auto failed = call("POST", "/v1/instances/a/checkpoint");
  EXPECT_EQ(failed.status, 500);
  EXPECT_NE(body(failed)["error"].get<std::string>().find("criu dump failed"), std::string::npos) << failed.body;
  EXPECT_EQ(state("a"), "running");
  fake.refuse_save = false;
  // The failed save left the exit watch in place: a later death is still noticed.
  ASSERT_EQ(call("POST", "/v1/instances/a/checkpoint").status, 200);
  auto stop = call("POST", "/v1/instances/a/stop");
  ASSERT_EQ(stop.status, 200) << stop.body;
  EXPECT_EQ(body(stop)["state"], "stopped");
  EXPECT_GE(fake.discards, 1);
  EXPECT_FALSE(std::filesystem::exists(dir + "/instances/a/saved"));
  EXPECT_EQ(call("POST", "/v1/instances/a/start").status, 200);
}

TEST_F(SuspendOverFake, ASavedInstanceHoldsNoReservationAndResumeAdmitsAgain) {
  ASSERT_EQ(call("POST", "/v1/instances", spec("a", 3000), {{"start", "1"}}).status, 201);
  EXPECT_EQ(call("POST", "/v1/instances", spec("b", 3000)).status, 409) << "4096 MiB in all";
  ASSERT_EQ(call("POST", "/v1/instances/a/suspend").status, 200);
  ASSERT_EQ(call("POST", "/v1/instances", spec("b", 3000), {{"start", "1"}}).status, 201) << "a's memory was released";
  auto refused = call("POST", "/v1/instances/a/resume");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(body(refused)["error"].get<std::string>().find("not enough memory"), std::string::npos) << refused.body;
  EXPECT_NE(body(refused)["hint"].get<std::string>().find("stays saved"), std::string::npos) << refused.body;
  EXPECT_EQ(body(refused)["state"], "checkpointed");
  EXPECT_EQ(fake.restores, 0);
  ASSERT_EQ(call("DELETE", "/v1/instances/b", "", {{"force", "1"}}).status, 204);
  ASSERT_EQ(call("POST", "/v1/instances/a/resume").status, 200);
  EXPECT_EQ(state("a"), "running");
  // Deleting a saved instance discards what was saved.
  ASSERT_EQ(call("POST", "/v1/instances/a/suspend").status, 200);
  ASSERT_EQ(call("DELETE", "/v1/instances/a").status, 204);
  EXPECT_FALSE(std::filesystem::exists(dir + "/instances/a"));
}

TEST_F(SuspendOverFake, ExportAndImportRequests) {
  ASSERT_EQ(call("POST", "/v1/instances", spec("a", 512), {{"start", "1"}}).status, 201);
  EXPECT_EQ(call("POST", "/v1/instances/a/checkpoint", R"({"export":"relative.tar"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/instances/a/restore", R"({"import":"x"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/instances/a/restore", R"({"other":"/x"})").status, 400);
  // Importing into a running container is refused before anything is read.
  auto busy = call("POST", "/v1/instances/a/restore", R"({"import":"/nonexistent.tar"})");
  EXPECT_EQ(busy.status, 409) << busy.body;
  EXPECT_EQ(body(busy)["state"], "running");
  // This backend cannot export: the checkpoint itself is done and says so.
  auto ck = call("POST", "/v1/instances/a/checkpoint", R"({"export":")" + dir + R"(/a.tar"})");
  EXPECT_EQ(ck.status, 501) << ck.body;
  EXPECT_NE(body(ck)["error"].get<std::string>().find("a is checkpointed, but its export"), std::string::npos) << ck.body;
  EXPECT_EQ(state("a"), "checkpointed");
  auto missing = call("POST", "/v1/instances/a/restore", R"({"import":"/nonexistent.tar"})");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(state("a"), "checkpointed");
  // CRIU restores what the images say, as root: only an admin may import.
  http::Request r;
  r.method = "POST";
  r.path = "/v1/instances/a/restore";
  r.body = R"({"import":"/tmp/x.tar"})";
  auto operator_answer = api->handle(r, Role::Operator);
  EXPECT_EQ(operator_answer.status, 403) << operator_answer.body;
  EXPECT_EQ(state("a"), "checkpointed");
}

}  // namespace
}  // namespace vessel::daemon
