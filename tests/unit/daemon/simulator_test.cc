// vessel policy simulate: traces through the pools' own allocation code.
#include <gtest/gtest.h>

#include "daemon/policy/simulator.h"

namespace vessel::daemon {
namespace {

SimReport run(const std::string& text, std::optional<PolicyKind> policy = std::nullopt) {
  auto trace = parse_trace(text);
  EXPECT_TRUE(trace) << trace.error().to_string();
  if (!trace) return {};
  auto r = simulate(*trace, policy);
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? *r : SimReport{};
}

const SimMember* member(const SimReport& r, const std::string& name) {
  for (const auto& m : r.members)
    if (m.name == name) return &m;
  return nullptr;
}

// The issue's case: three busy members with shares 1, 2, 5 in a pool of 1 CPU.
constexpr const char* kBusyOneTwoFive = R"({"pool": {"cpus": 1, "memory_mib": 1024, "policy": "proportional"},
  "duration_ms": 1000, "events": [
   {"at_ms": 0, "arrive": "a", "share": 1}, {"at_ms": 0, "arrive": "b", "share": 2},
   {"at_ms": 0, "arrive": "c", "share": 5}]})";

TEST(PolicySimulator, ProportionalSharesOfBusyMembers) {
  auto r = run(kBusyOneTwoFive);
  ASSERT_EQ(r.members.size(), 3u);
  EXPECT_EQ(r.steps, 10u);
  EXPECT_NEAR(member(r, "a")->allocated_cpus, 0.125, 1e-9);
  EXPECT_NEAR(member(r, "b")->allocated_cpus, 0.25, 1e-9);
  EXPECT_NEAR(member(r, "c")->allocated_cpus, 0.625, 1e-9);
  EXPECT_NEAR(member(r, "c")->used_cpus, 0.625, 1e-6);
  EXPECT_NEAR(member(r, "a")->memory_bytes, 128.0 * (1 << 20), 1);
  EXPECT_NEAR(r.jain, 1.0, 1e-9) << "each gets its share's worth";
  EXPECT_EQ(member(r, "a")->waiting_ms, 1000u) << "a busy member always wants more";
}

TEST(PolicySimulator, IdleCapacityIsLentUnlessHard) {
  const char* trace = R"({"pool": {"cpus": 1, "memory_mib": 1024, "policy": "proportional", "hard": HARD},
    "duration_ms": 500, "events": [
     {"at_ms": 0, "arrive": "busy", "share": 1}, {"at_ms": 0, "arrive": "idle", "share": 1, "demand_cpus": 0.1}]})";
  std::string soft = trace, hard = trace;
  soft.replace(soft.find("HARD"), 4, "false");
  hard.replace(hard.find("HARD"), 4, "true");
  auto s = run(soft);
  EXPECT_NEAR(member(s, "busy")->used_cpus, 0.9, 1e-6) << "weights lend what idle does not use";
  EXPECT_EQ(member(s, "idle")->waiting_ms, 0u);
  auto h = run(hard);
  EXPECT_NEAR(member(h, "busy")->used_cpus, 0.5, 1e-6) << "a quota does not";
}

TEST(PolicySimulator, PriorityServesTheHighFirst) {
  auto r = run(R"({"pool": {"cpus": 1, "memory_mib": 256, "policy": "priority"}, "duration_ms": 300, "events": [
     {"at_ms": 0, "arrive": "low", "priority": 0}, {"at_ms": 0, "arrive": "high", "priority": 10, "demand_cpus": 0.8,
      "sla_cpus": 0.8}]})");
  EXPECT_NEAR(member(r, "high")->allocated_cpus, 0.8, 1e-9);
  EXPECT_EQ(member(r, "high")->sla_misses, 0u);
  EXPECT_NEAR(member(r, "low")->allocated_cpus, 0.2, 1e-9);
}

TEST(PolicySimulator, AFullFixedPoolRefusesAnArrivalAndMembersComeAndGo) {
  auto r = run(R"({"pool": {"cpus": 1, "memory_mib": 256, "policy": "fixed"}, "step_ms": 100, "events": [
     {"at_ms": 0, "arrive": "a", "quota_cpus": 0.75, "quota_mib": 64}, {"at_ms": 100, "arrive": "b", "quota_cpus": 0.5, "quota_mib": 64},
     {"at_ms": 200, "leave": "a"}, {"at_ms": 300, "arrive": "b2", "quota_cpus": 0.5, "quota_mib": 64}, {"at_ms": 500, "leave": "b2"}]})");
  ASSERT_EQ(r.members.size(), 3u);
  EXPECT_TRUE(member(r, "b")->refused);
  EXPECT_FALSE(member(r, "b")->refusal.empty());
  EXPECT_EQ(member(r, "a")->steps, 2u);
  EXPECT_EQ(member(r, "a")->left_ms.value_or(0), 200u);
  EXPECT_FALSE(member(r, "b2")->refused);
  EXPECT_EQ(member(r, "b2")->steps, 2u);
  EXPECT_NEAR(member(r, "b2")->allocated_cpus, 0.5, 1e-9);
}

TEST(PolicySimulator, DemandMovesTowardTheDemandStepByStep) {
  auto r = run(R"({"pool": {"cpus": 2, "memory_mib": 256, "policy": "demand"}, "gain": 0.5, "duration_ms": 300,
    "events": [{"at_ms": 0, "arrive": "a", "demand_cpus": 1}]})");
  // From 0 toward 1 by half the gap each step: 0.5, 0.75, 0.875; the mean is what the report keeps.
  EXPECT_NEAR(member(r, "a")->allocated_cpus, (0.5 + 0.75 + 0.875) / 3, 1e-6);
}

TEST(PolicySimulator, ThePolicyCanBeReplaced) {
  const char* trace = R"({"pool": {"cpus": 1, "memory_mib": 256, "policy": "proportional"}, "duration_ms": 200,
    "events": [{"at_ms": 0, "arrive": "vip", "priority": 1}, {"at_ms": 0, "arrive": "other", "priority": 0}]})";
  EXPECT_NEAR(run(trace).jain, 1.0, 1e-9) << "equal shares, priorities ignored";
  auto r = run(trace, PolicyKind::Priority);
  EXPECT_EQ(r.policy, PolicyKind::Priority);
  EXPECT_NEAR(member(r, "vip")->used_cpus, 1.0, 1e-3);  // weight 10000 against 1
  EXPECT_NEAR(r.jain, 0.5, 1e-3) << "one of two gets (nearly) everything";
}

TEST(PolicySimulator, BadTracesAreRefusedWithTheFieldNamed) {
  auto bad = [](const std::string& text) {
    auto t = parse_trace(text);
    return t ? std::string("(parsed)") : t.error().to_string();
  };
  EXPECT_NE(bad("[]").find("expected an object"), std::string::npos);
  EXPECT_NE(bad(R"({"events": []})").find("trace.pool"), std::string::npos);
  EXPECT_NE(bad(R"({"pool": {"cpus": 1, "policy": "lottery"}, "events": []})").find("lottery"), std::string::npos);
  EXPECT_NE(bad(R"({"pool": {"cpus": 1}, "events": [{"arrive": "a"}]})").find("events[0].at_ms"), std::string::npos);
  EXPECT_NE(bad(R"({"pool": {"cpus": 1}, "events": [{"at_ms": 0, "arrive": "a", "leave": "a"}]})").find("exactly one"),
            std::string::npos);
  EXPECT_NE(bad(R"({"pool": {"cpus": 1}, "events": [{"at_ms": 0, "arrive": "a", "share": 0}]})").find("share"), std::string::npos);
  EXPECT_NE(bad(R"({"pool": {"cpus": 1}, "events": [{"at_ms": 0, "demand": "a"}]})").find("needs demand_cpus"), std::string::npos);
  EXPECT_NE(bad(R"({"pool": {"cpus": 1}, "events": [{"at_ms": 0, "arrive": "a", "colour": 1}]})").find("colour"), std::string::npos);
  EXPECT_NE(bad(R"({"pool": {"cpus": 1}, "step_ms": 1, "duration_ms": 99999999999, "events": []})").find("steps"),
            std::string::npos);
}

TEST(PolicySimulator, ReportAsJson) {
  auto j = to_json(run(kBusyOneTwoFive));
  EXPECT_EQ(j["policy"], "proportional");
  ASSERT_EQ(j["members"].size(), 3u);
  EXPECT_NEAR(j["members"][2]["allocated_cpus"].get<double>(), 0.625, 1e-9);
  EXPECT_TRUE(j["members"][0]["left_ms"].is_null());
  EXPECT_NEAR(j["jain"].get<double>(), 1.0, 1e-9);
}

}  // namespace
}  // namespace vessel::daemon
