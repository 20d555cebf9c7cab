// Admission counts only instances that hold resources (running, paused, starting) and is checked
// at every start, not only at create: over the manager and the API with a fake backend.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "base/process.h"
#include "daemon/api/router.h"
#include "sleeping_backend.h"
#include "api_call.h"

namespace vessel::daemon {
namespace {

// Starts `sleep`; start() can be held until released, to see an instance while it is starting.
class SleepBackend : public SleepingBackend {
 public:
  Result<GuestProcess> start(const InstanceContext&, const BootSource&) override {
    entered = true;
    if (fail_start) return fail(EIO, "the guest did not start");
    while (hold) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return spawn();
  }
  std::atomic<bool> hold{false};
  std::atomic<bool> entered{false};
  std::atomic<bool> fail_start{false};
};

struct AdmissionOverFake : ::testing::Test {
  AdmissionOverFake() {
    char t[] = "/tmp/vessel-admission-test.XXXXXX";
    dir = ::mkdtemp(t);
    std::filesystem::create_directories(dir + "/rootfs");
    store = std::move(*Store::open(dir + "/db"));
    images = std::make_unique<ImageStore>(*store, dir + "/images");
    // 2 CPUs x overcommit 4 = 8 CPUs to reserve.
    ManagerConfig config{dir, "vessel-unit", Capacity{2, 4096}, Overcommit{}};
    manager = std::make_unique<Manager>(config, *store, events, *images, fake, fake);
    manager->reconcile();
    api = std::make_unique<Api>(*manager, *images, events, "");
  }
  ~AdmissionOverFake() override {
    fake.hold = false;
    api.reset();
    for (const auto& row : manager->rows().value_or(std::vector<InstanceRow>{})) (void)manager->remove(row.name, true);
    manager.reset();
    std::filesystem::remove_all(dir);
  }
  http::Response call(const std::string& method, const std::string& path, const std::string& body = "",
                      std::map<std::string, std::string> query = {}) {
    return api_call(*api, method, path, body, std::move(query));
  }
  json::Json body(const http::Response& r) { return body_of(r); }
  std::string spec(const std::string& name, int cpus) {
    return R"({"name":")" + name + R"(","rootfs":")" + dir + R"(/rootfs","memory_mib":64,"cpus":)" + std::to_string(cpus) + "}";
  }

  std::string dir;
  std::unique_ptr<Store> store;
  EventBus events;
  std::unique_ptr<ImageStore> images;
  SleepBackend fake;
  std::unique_ptr<Manager> manager;
  std::unique_ptr<Api> api;
};

TEST(HoldsResources, OnlyStatesWithAGuestProcess) {
  EXPECT_TRUE(holds_resources(State::Running));
  EXPECT_TRUE(holds_resources(State::Paused));
  EXPECT_FALSE(holds_resources(State::Created));
  EXPECT_FALSE(holds_resources(State::Stopped));
  EXPECT_FALSE(holds_resources(State::Suspended));
  EXPECT_FALSE(holds_resources(State::Checkpointed));
}

TEST_F(AdmissionOverFake, StoppedInstancesGiveTheirReservationBack) {
  // The issue's case: 8 runs + stops on 2 CPUs, then a new create/start succeeds.
  for (int i = 0; i < 8; ++i) {
    auto r = call("POST", "/v1/instances", spec("r" + std::to_string(i), 1), {{"start", "1"}});
    ASSERT_EQ(r.status, 201) << i << ": " << r.body;
  }
  auto full = call("POST", "/v1/instances", spec("late", 1), {{"start", "1"}});
  EXPECT_EQ(full.status, 409) << "8 CPUs of 8 are held";
  EXPECT_NE(body(full)["error"].get<std::string>().find("8.00 reserved + 1.00 wanted > 8.00 allowed"), std::string::npos)
      << full.body;
  EXPECT_EQ(call("GET", "/v1/instances/late").status, 404) << "a refused run leaves nothing behind";
  for (int i = 0; i < 8; ++i) ASSERT_EQ(call("POST", "/v1/instances/r" + std::to_string(i) + "/stop").status, 200);
  auto after = call("POST", "/v1/instances", spec("late", 1), {{"start", "1"}});
  EXPECT_EQ(after.status, 201) << after.body;
  EXPECT_EQ(body(after)["state"], "running");
  auto created = call("POST", "/v1/instances", spec("later", 1));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(call("POST", "/v1/instances/later/start").status, 200);
}

TEST_F(AdmissionOverFake, CreatedInstancesHoldNothingAndStartIsAdmitted) {
  // 12 created instances of 1 CPU each on 8: all admitted, they hold nothing yet.
  for (int i = 0; i < 12; ++i) ASSERT_EQ(call("POST", "/v1/instances", spec("c" + std::to_string(i), 1)).status, 201) << i;
  for (int i = 0; i < 8; ++i) ASSERT_EQ(call("POST", "/v1/instances/c" + std::to_string(i) + "/start").status, 200) << i;
  // The ninth start is refused at start, with the numbers, and the instance stays created.
  auto refused = call("POST", "/v1/instances/c8/start");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(body(refused)["error"].get<std::string>().find("start c8"), std::string::npos) << refused.body;
  EXPECT_NE(body(refused)["error"].get<std::string>().find("not enough CPU"), std::string::npos) << refused.body;
  EXPECT_EQ(body(call("GET", "/v1/instances/c8"))["state"], "created");
  // A create that could not fit beside the holders even now is still refused early.
  EXPECT_EQ(call("POST", "/v1/instances", spec("big", 1)).status, 409);
  // Paused instances still hold theirs; a stopped one gives it back.
  ASSERT_EQ(call("POST", "/v1/instances/c0/pause").status, 200);
  EXPECT_EQ(call("POST", "/v1/instances/c8/start").status, 409);
  ASSERT_EQ(call("POST", "/v1/instances/c1/stop").status, 200);
  EXPECT_EQ(call("POST", "/v1/instances/c8/start").status, 200);
  // restart of a running instance is admitted (it does not count against itself).
  EXPECT_EQ(call("POST", "/v1/instances/c2/restart").status, 200);
}

TEST_F(AdmissionOverFake, AnInstanceBeingStartedHoldsItsReservation) {
  ASSERT_EQ(call("POST", "/v1/instances", spec("a", 5)).status, 201);
  ASSERT_EQ(call("POST", "/v1/instances", spec("b", 5)).status, 201);
  fake.hold = true;
  auto first = std::async(std::launch::async, [&] { return call("POST", "/v1/instances/a/start").status; });
  while (!fake.entered) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // a is starting (5 of 8 CPUs): b's start is refused although a is not running yet.
  auto second = call("POST", "/v1/instances/b/start");
  EXPECT_EQ(second.status, 409) << second.body;
  EXPECT_NE(body(second)["error"].get<std::string>().find("5.00 reserved + 5.00 wanted"), std::string::npos) << second.body;
  fake.hold = false;
  EXPECT_EQ(first.get(), 200);
  EXPECT_EQ(body(call("GET", "/v1/instances/a"))["state"], "running");
  EXPECT_EQ(call("POST", "/v1/instances/b/start").status, 409) << "a runs now";
  ASSERT_EQ(call("POST", "/v1/instances/a/stop").status, 200);
  EXPECT_EQ(call("POST", "/v1/instances/b/start").status, 200);
}

// A start takes seconds for a VM: meanwhile the instance is still stopped the way it last ended
// (a restart policy's next start too), and the exit is forgotten when the new run is running.
TEST_F(AdmissionOverFake, AnInstanceBeingStartedKeepsItsLastExitUntilItRuns) {
  ASSERT_EQ(call("POST", "/v1/instances", spec("a", 1)).status, 201);
  ASSERT_EQ(call("POST", "/v1/instances/a/start").status, 200);
  ASSERT_EQ(call("POST", "/v1/instances/a/stop").status, 200);
  auto stopped = body(call("GET", "/v1/instances/a"));
  ASSERT_EQ(stopped["exit_code"], 137) << stopped.dump();
  fake.entered = false;
  fake.hold = true;
  auto again = std::async(std::launch::async, [&] { return call("POST", "/v1/instances/a/start").status; });
  while (!fake.entered) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto starting = body(call("GET", "/v1/instances/a"));
  EXPECT_EQ(starting["state"], "stopped") << starting.dump();
  EXPECT_EQ(starting["exit_code"], 137) << starting.dump();
  EXPECT_EQ(starting["exit_reason"], stopped["exit_reason"]) << starting.dump();
  fake.hold = false;
  EXPECT_EQ(again.get(), 200);
  auto running = body(call("GET", "/v1/instances/a"));
  EXPECT_EQ(running["state"], "running");
  EXPECT_TRUE(running["exit_code"].is_null()) << running.dump();
  EXPECT_EQ(running["exit_reason"], "") << running.dump();
}

// Docker's stop is idempotent: stopping a created or a stopped instance succeeds and changes nothing.
TEST_F(AdmissionOverFake, StopIsIdempotent) {
  ASSERT_EQ(call("POST", "/v1/instances", spec("a", 1)).status, 201);
  auto created = call("POST", "/v1/instances/a/stop");
  EXPECT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(body(created)["state"], "created");
  ASSERT_EQ(call("POST", "/v1/instances/a/start").status, 200);
  ASSERT_EQ(call("POST", "/v1/instances/a/stop").status, 200);
  auto again = call("POST", "/v1/instances/a/stop");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(body(again)["state"], "stopped");
  EXPECT_EQ(body(again)["exit_code"], 137) << "the last exit is kept";
}

TEST_F(AdmissionOverFake, AFailedStartGivesTheReservationBack) {
  ASSERT_EQ(call("POST", "/v1/instances", spec("a", 5)).status, 201);
  ASSERT_EQ(call("POST", "/v1/instances", spec("b", 5)).status, 201);
  fake.fail_start = true;
  auto failed = call("POST", "/v1/instances/a/start");
  EXPECT_NE(failed.status, 200) << failed.body;
  fake.fail_start = false;
  EXPECT_EQ(body(call("GET", "/v1/instances/a"))["state"], "created");
  EXPECT_EQ(call("POST", "/v1/instances/b/start").status, 200) << "a holds nothing after its failed start";
}

}  // namespace
}  // namespace vessel::daemon
