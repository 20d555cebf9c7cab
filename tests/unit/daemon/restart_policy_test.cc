// Restart policies (docs/daemon/restart.md): parsing, the pure decision with its back-off, the
// spec fields and the store's bookkeeping, and the timer thread that waits the back-offs.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "daemon/health/timer_thread.h"
#include "daemon/policy/restart_policy.h"
#include "daemon/spec/spec.h"
#include "daemon/store/store.h"

namespace vessel::daemon {
namespace {

RestartPolicy policy(const char* text) { return parse_restart_policy(text).value(); }
EndFacts exited(int64_t code, uint64_t ran_ms = 50) { return EndFacts{EndCause::Exited, code, ran_ms}; }

TEST(RestartPolicyParse, DockerSpellings) {
  EXPECT_EQ(policy("no").mode, RestartMode::No);
  EXPECT_EQ(policy("always").mode, RestartMode::Always);
  EXPECT_EQ(policy("unless-stopped").mode, RestartMode::UnlessStopped);
  EXPECT_EQ(policy("on-failure").mode, RestartMode::OnFailure);
  EXPECT_EQ(policy("on-failure").max_retries, 0u);
  EXPECT_EQ(policy("on-failure:3").max_retries, 3u);
  for (const char* text : {"no", "always", "unless-stopped", "on-failure", "on-failure:3"}) EXPECT_EQ(to_string(policy(text)), text);
}

TEST(RestartPolicyParse, RefusesNonsense) {
  for (const char* text : {"sometimes", "on-failure:", "on-failure:x", "on-failure:-1", "on-failure:3x", "always:3",
                           "no:1", "unless-stopped:2", "on-failure:99999999999", "ON-FAILURE"}) {
    auto p = parse_restart_policy(text);
    EXPECT_FALSE(p) << text;
    if (!p) {
      EXPECT_EQ(p.error().errnum(), EINVAL);
    }
  }
}

TEST(RestartDecision, OnFailureRestartsNonZeroExitsUpToN) {
  auto p = policy("on-failure:3");
  RestartState s;
  std::vector<uint64_t> delays;
  for (int i = 0; i < 5; ++i) {
    auto d = decide_restart(p, s, exited(1));
    if (!d.restart) {
      EXPECT_NE(d.why.find("gave up after 3"), std::string::npos) << d.why;
      EXPECT_FALSE(d.next.pending);
      break;
    }
    delays.push_back(d.delay_ms);
    s = d.next;
    EXPECT_TRUE(s.pending);
    s.count += 1;  // what claim() does when the restart happens
    s.pending = false;
  }
  EXPECT_EQ(delays, (std::vector<uint64_t>{100, 200, 400}));
  EXPECT_EQ(s.count, 3u);
}

TEST(RestartDecision, OnFailureDoesNotRestartAZeroExit) {
  auto d = decide_restart(policy("on-failure"), {}, exited(0));
  EXPECT_FALSE(d.restart);
  EXPECT_TRUE(decide_restart(policy("on-failure"), {}, EndFacts{EndCause::Exited, std::nullopt, 0}).restart)
      << "an unknown status counts as a failure";
  EXPECT_TRUE(decide_restart(policy("on-failure"), {}, EndFacts{EndCause::Unhealthy, 0, 0}).restart);
}

TEST(RestartDecision, OnFailureWithoutLimitGoesOn) {
  RestartState s;
  s.count = 500;
  EXPECT_TRUE(decide_restart(policy("on-failure"), s, exited(2)).restart);
}

TEST(RestartDecision, AlwaysAndUnlessStoppedRestartEveryExit) {
  for (const char* text : {"always", "unless-stopped"}) {
    EXPECT_TRUE(decide_restart(policy(text), {}, exited(0)).restart) << text;
    EXPECT_TRUE(decide_restart(policy(text), {}, exited(137)).restart) << text;
  }
  EXPECT_FALSE(decide_restart(policy("no"), {}, exited(1)).restart);
}

TEST(RestartDecision, BackoffDoublesToFiveMinutesAndResetsAfterTenSeconds) {
  auto p = policy("always");
  RestartState s;
  uint64_t last = 0;
  for (int i = 0; i < 30; ++i) {
    auto d = decide_restart(p, s, exited(1));
    ASSERT_TRUE(d.restart);
    EXPECT_GE(d.delay_ms, last);
    last = d.delay_ms;
    s = d.next;
  }
  EXPECT_EQ(last, kMaxBackoffMs);
  auto d = decide_restart(p, s, exited(1, 9999));
  EXPECT_EQ(d.delay_ms, kMaxBackoffMs);
  d = decide_restart(p, s, exited(1, 10000));
  EXPECT_EQ(d.delay_ms, kFirstBackoffMs);
  EXPECT_EQ(d.next.next_delay_ms, 2 * kFirstBackoffMs);
}

TEST(RestartDecision, UserStopPreventsRestarts) {
  auto stopped = after_user_stop(RestartState{2, 800, false, true});
  EXPECT_TRUE(stopped.user_stopped);
  EXPECT_FALSE(stopped.pending);
  EXPECT_EQ(stopped.count, 2u);
  for (const char* text : {"always", "unless-stopped", "on-failure"}) EXPECT_FALSE(decide_restart(policy(text), stopped, exited(1)).restart);
  EXPECT_EQ(after_user_start(), RestartState{});
}

TEST(RestartDecision, DaemonStartBringsBackAlwaysAndDueRestarts) {
  EndFacts start{EndCause::DaemonStart, 0, 0};
  RestartState stopped_by_user = after_user_stop({});
  auto always = decide_restart(policy("always"), stopped_by_user, start);
  EXPECT_TRUE(always.restart) << "Docker: always comes back with the daemon, even after a stop";
  EXPECT_EQ(always.delay_ms, 0u);
  EXPECT_FALSE(always.next.user_stopped);
  EXPECT_FALSE(decide_restart(policy("unless-stopped"), stopped_by_user, start).restart);
  EXPECT_TRUE(decide_restart(policy("unless-stopped"), {}, start).restart);
  EXPECT_FALSE(decide_restart(policy("on-failure"), {}, start).restart) << "exited 0, nothing due";
  RestartState due{1, 200, false, true};
  auto d = decide_restart(policy("on-failure:3"), due, start);
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.next.next_delay_ms, 200u) << "the back-off goes on from where it was";
  EXPECT_TRUE(decide_restart(policy("on-failure:3"), {}, EndFacts{EndCause::DaemonStart, 1, 0}).restart)
      << "died with a failure while vesseld was down";
  EXPECT_FALSE(decide_restart(policy("no"), due, start).restart);
}

TEST(RestartSpec, RoundTripsAndRefusesBadValues) {
  auto s = parse_spec_text(R"({"name":"c","rootfs":"/r","restart":"on-failure:3",
      "healthcheck":{"test":["/bin/sh","-c","true"],"interval_ms":500,"timeout_ms":200,"retries":2,"start_period_ms":1000}})");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->restart, (RestartPolicy{RestartMode::OnFailure, 3}));
  ASSERT_TRUE(s->healthcheck);
  EXPECT_EQ(s->healthcheck->retries, 2u);
  auto again = parse_spec(to_json(*s));
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->restart, s->restart);
  EXPECT_EQ(again->healthcheck, s->healthcheck);
  auto defaults = parse_spec_text(R"({"name":"c","rootfs":"/r","healthcheck":{"test":["true"]}})");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->healthcheck->interval_ms, 30000u);
  EXPECT_EQ(defaults->healthcheck->timeout_ms, 30000u);
  EXPECT_EQ(defaults->healthcheck->retries, 3u);
  EXPECT_EQ(defaults->healthcheck->start_period_ms, 0u);
  EXPECT_EQ(defaults->restart.mode, RestartMode::No);
  for (const char* bad : {R"("restart":"sometimes")", R"("restart":3)", R"("healthcheck":{"test":[]})",
                          R"("healthcheck":{"test":"true"})", R"("healthcheck":{"test":["true"],"retries":0})",
                          R"("healthcheck":{"test":["true"],"interval_ms":0})", R"("healthcheck":{"test":["true"],"x":1})",
                          R"("healthcheck":{"test":["true"]},"no_healthcheck":true)"}) {
    auto r = parse_spec_text(std::string(R"({"name":"c","rootfs":"/r",)") + bad + "}");
    EXPECT_FALSE(r) << bad;
  }
}

TEST(RestartStore, StateSurvivesReopenAndGoesWithTheInstance) {
  auto dir = std::filesystem::temp_directory_path() / ("restart-store-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = (dir / "vessel.db").string();
  {
    auto s = Store::open(path).value();
    ASSERT_TRUE(s->insert_instance(InstanceRow{"c", "container", "{}", "stopped"}));
    EXPECT_EQ(s->restart_state("c").value(), RestartState{});
    ASSERT_TRUE(s->set_restart_state("c", RestartState{2, 400, false, true}));
    auto missing = s->set_restart_state("nobody", RestartState{});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errnum(), ENOENT);
  }
  {
    auto s = Store::open(path).value();
    EXPECT_EQ(s->restart_state("c").value(), (RestartState{2, 400, false, true}));
    ASSERT_TRUE(s->delete_instance("c"));
    ASSERT_TRUE(s->insert_instance(InstanceRow{"c", "container", "{}", "created"}));
    EXPECT_EQ(s->restart_state("c").value(), RestartState{}) << "a new instance of the same name starts afresh";
  }
  std::filesystem::remove_all(dir);
}

TEST(TimerThread, RunsInDeadlineOrderAndCancels) {
  std::mutex m;
  std::vector<std::string> ran;
  {
    TimerThread t;
    auto note = [&](std::string what) { return [&, what] { std::lock_guard l(m); ran.push_back(what); }; };
    t.schedule("late", std::chrono::milliseconds(150), note("late"));
    t.schedule("early", std::chrono::milliseconds(50), note("early"));
    t.schedule("gone", std::chrono::milliseconds(60), note("gone"));
    t.schedule("replaced", std::chrono::milliseconds(10), note("replaced-old"));
    t.schedule("replaced", std::chrono::milliseconds(100), note("replaced-new"));
    t.post(note("now"));
    EXPECT_TRUE(t.cancel("gone"));
    EXPECT_FALSE(t.cancel("never"));
    std::atomic<bool> spawned{false};
    t.spawn([&] { spawned = true; });
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    EXPECT_TRUE(spawned);
  }
  EXPECT_EQ(ran, (std::vector<std::string>{"now", "early", "replaced-new", "late"}));
}

}  // namespace
}  // namespace vessel::daemon
