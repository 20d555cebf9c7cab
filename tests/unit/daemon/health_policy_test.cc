// Health checks (docs/daemon/health.md): Docker's state machine, and the checker's schedule with
// a fake probe in place of exec.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "daemon/instances/health_checker.h"
#include "daemon/policy/health_policy.h"

namespace vessel::daemon {
namespace {

HealthResult pass() { return HealthResult{1, 2, 0, "ok"}; }
HealthResult failure() { return HealthResult{1, 2, 1, "no"}; }

TEST(HealthPolicy, StartingThenHealthyThenUnhealthyAfterRetries) {
  HealthcheckSpec spec;
  spec.retries = 3;
  HealthState s;
  EXPECT_EQ(s.status, "starting");
  s = next_health(s, spec, pass(), false);
  EXPECT_EQ(s.status, "healthy");
  s = next_health(s, spec, failure(), false);
  s = next_health(s, spec, failure(), false);
  EXPECT_EQ(s.status, "healthy");
  EXPECT_EQ(s.failing_streak, 2u);
  s = next_health(s, spec, failure(), false);
  EXPECT_EQ(s.status, "unhealthy");
  EXPECT_EQ(s.failing_streak, 3u);
  s = next_health(s, spec, pass(), false);
  EXPECT_EQ(s.status, "healthy");
  EXPECT_EQ(s.failing_streak, 0u);
}

TEST(HealthPolicy, StartPeriodFailuresDoNotCountButAPassDoes) {
  HealthcheckSpec spec;
  spec.retries = 1;
  HealthState s;
  for (int i = 0; i < 5; ++i) s = next_health(s, spec, failure(), true);
  EXPECT_EQ(s.status, "starting");
  EXPECT_EQ(s.failing_streak, 0u);
  s = next_health(s, spec, pass(), true);
  EXPECT_EQ(s.status, "healthy");
  s = next_health(s, spec, failure(), false);
  EXPECT_EQ(s.status, "unhealthy");
}

TEST(HealthPolicy, KeepsTheLastFiveResultsWithBoundedOutput) {
  HealthcheckSpec spec;
  HealthState s;
  for (int i = 0; i < 8; ++i) s = next_health(s, spec, HealthResult{double(i), double(i), i % 2, std::string(10000, 'x')}, false);
  ASSERT_EQ(s.log.size(), kHealthLogSize);
  EXPECT_EQ(s.log.front().start, 3);
  EXPECT_EQ(s.log.back().output.size(), kHealthOutputBytes);
  auto j = to_json(s);
  EXPECT_EQ(j["log"].size(), 5u);
  EXPECT_EQ(j["status"], s.status);
  EXPECT_EQ(j["failing_streak"], s.failing_streak);
}

TEST(HealthChecker, FakeProbeGoesHealthyThenUnhealthyAndReportsIt) {
  EventBus events;
  std::atomic<int> calls{0};
  std::atomic<int> unhealthy{0};
  std::atomic<bool> failing{false};
  HealthcheckSpec spec;
  spec.test = {"true"};
  spec.interval_ms = 20;
  spec.retries = 2;
  auto from = events.next_seq();
  {
    HealthChecker checker(
        events,
        [&](const std::string& name, const std::vector<std::string>& argv, std::chrono::milliseconds timeout) -> Result<ExecResult> {
          EXPECT_EQ(name, "web");
          EXPECT_EQ(argv, spec.test);
          EXPECT_EQ(timeout.count(), 30000);
          ++calls;
          return ExecResult{failing ? 1 : 0, failing ? "down" : "up"};
        },
        [&](const std::string& name) {
          EXPECT_EQ(name, "web");
          ++unhealthy;
        });
    EXPECT_TRUE(checker.describe("web").empty());
    checker.watch("web", spec);
    EXPECT_EQ(checker.describe("web")["health"]["status"], "starting");
    for (int i = 0; i < 200 && checker.describe("web")["health"]["status"] != "healthy"; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(checker.describe("web")["health"]["status"], "healthy");
    failing = true;
    for (int i = 0; i < 200 && unhealthy == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(unhealthy, 1);
    auto h = checker.describe("web")["health"];
    EXPECT_EQ(h["status"], "unhealthy");
    EXPECT_GE(h["failing_streak"].get<int>(), 2);
    EXPECT_EQ(h["log"].back()["output"], "down");
    checker.unwatch("web");
    EXPECT_TRUE(checker.describe("web").empty());
    int after = calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_LE(calls, after + 1) << "no checks after unwatch (one may have been under way)";
  }
  auto text = events.wait(from, 0);
  EXPECT_NE(text.find(R"("status":"healthy")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("status":"unhealthy")"), std::string::npos) << text;
}

TEST(HealthChecker, EndsWhenTheInstanceStopsAndSkipsWhilePaused) {
  EventBus events;
  std::atomic<int> calls{0};
  HealthcheckSpec spec;
  spec.test = {"true"};
  spec.interval_ms = 10;
  HealthChecker checker(
      events,
      [&](const std::string&, const std::vector<std::string>&, std::chrono::milliseconds) -> Result<ExecResult> {
        int n = ++calls;
        if (n < 3) return fail(EBUSY, "paused");
        return fail(ESRCH, "stopped");
      },
      [](const std::string&) { ADD_FAILURE() << "not unhealthy"; });
  checker.watch("c", spec);
  for (int i = 0; i < 200 && !checker.describe("c").empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(checker.describe("c").empty());
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace vessel::daemon
