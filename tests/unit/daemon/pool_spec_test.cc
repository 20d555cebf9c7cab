// Pools' request bodies (policy/pool_spec.h, spec/pool_membership.h): parse, then process.
#include <gtest/gtest.h>

#include "daemon/policy/pool_spec.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {
namespace {

TEST(PoolSpec, ParsesAndRoundTrips) {
  auto s = parse_pool_spec_text(R"({"name":"web","cpus":1.5,"memory_mib":1024,"policy":"priority","hard":true,"cpuset":"0-1"})");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->name, "web");
  EXPECT_DOUBLE_EQ(s->cpus, 1.5);
  EXPECT_EQ(s->memory_mib, 1024u);
  EXPECT_EQ(s->policy, PolicyKind::Priority);
  EXPECT_TRUE(s->hard);
  EXPECT_EQ(s->cpuset, "0-1");
  EXPECT_EQ(s->shape().size.memory_bytes, uint64_t{1} << 30);
  auto again = parse_pool_spec(to_json(*s));
  ASSERT_TRUE(again);
  EXPECT_EQ(to_json(*again), to_json(*s));
  auto plain = parse_pool_spec_text(R"({"name":"p","cpus":1,"memory_mib":64})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->policy, PolicyKind::Proportional) << "the default";
  EXPECT_FALSE(plain->hard);
}

TEST(PoolSpec, BadBodiesAreRefusedWithTheFieldNamed) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"cpus":1,"memory_mib":64})", "pool.name"},
      {R"({"name":"../x","cpus":1,"memory_mib":64})", "pool.name"},
      {R"({"name":"p","memory_mib":64})", "pool.cpus"},
      {R"({"name":"p","cpus":0,"memory_mib":64})", "pool.cpus"},
      {R"({"name":"p","cpus":"1","memory_mib":64})", "pool.cpus"},
      {R"({"name":"p","cpus":1e9,"memory_mib":64})", "pool.cpus"},
      {R"({"name":"p","cpus":1})", "pool.memory_mib"},
      {R"({"name":"p","cpus":1,"memory_mib":-5})", "pool.memory_mib"},
      {R"({"name":"p","cpus":1,"memory_mib":2})", "pool.memory_mib"},
      {R"({"name":"p","cpus":1,"memory_mib":64,"policy":"lottery"})", "pool.policy"},
      {R"({"name":"p","cpus":1,"memory_mib":64,"cpuset":"0;reboot"})", "pool.cpuset"},
      {R"({"name":"p","cpus":1,"memory_mib":64,"colour":"red"})", "colour"},
      {R"({"name":"p","cpus":1,"memory_mib":64,"round_ms":5})", "pool.round_ms"},
      {R"({"name":"p","cpus":1,"memory_mib":64,"round_ms":20000})", "pool.round_ms"},
      {R"({"name":"p","cpus":1,"memory_mib":64,"round_ms":"100ms"})", "pool.round_ms"},
      {R"({"name":"p","cpus":1,"memory_mib":64,"policy":"timeslice","hard":true})", "pool.hard"},
      {R"([1,2])", "expected an object"},
  };
  for (const auto& [body, mentions] : cases) {
    auto r = parse_pool_spec_text(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().errnum(), EINVAL) << body;
    EXPECT_NE(r.error().to_string().find(mentions), std::string::npos) << body << " -> " << r.error().to_string();
  }
}

TEST(PoolSpec, UpdatesReplaceOnlyWhatIsGiven) {
  PoolSpec current{"web", 1, 1024, PolicyKind::Proportional, false, ""};
  auto next = parse_pool_update(json::parse(R"({"cpus":0.5,"policy":"fixed"})").value(), current);
  ASSERT_TRUE(next);
  EXPECT_DOUBLE_EQ(next->cpus, 0.5);
  EXPECT_EQ(next->policy, PolicyKind::Fixed);
  EXPECT_EQ(next->memory_mib, 1024u);
  EXPECT_EQ(next->name, "web");
  EXPECT_FALSE(parse_pool_update(json::parse(R"({"name":"other"})").value(), current)) << "a pool is not renamed";
  EXPECT_FALSE(parse_pool_update(json::parse(R"({"cpus":-1})").value(), current));
}

TEST(PoolSpec, TimesliceHasARound) {
  auto s = parse_pool_spec_text(R"({"name":"t","cpus":1,"memory_mib":64,"policy":"timeslice","round_ms":250})");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->policy, PolicyKind::Timeslice);
  EXPECT_EQ(s->round_ms, 250u);
  EXPECT_EQ(to_json(*s)["policy"], "timeslice");
  EXPECT_EQ(to_json(*s)["round_ms"], 250);
  EXPECT_EQ(parse_pool_spec_text(R"({"name":"t","cpus":1,"memory_mib":64})")->round_ms, 100u) << "the default";
  auto next = parse_pool_update(json::parse(R"({"round_ms":40})").value(), *s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->round_ms, 40u);
  PoolSpec hard{"h", 1, 64, PolicyKind::Proportional, true, ""};
  auto refused = parse_pool_update(json::parse(R"({"policy":"timeslice"})").value(), hard);
  ASSERT_FALSE(refused) << "turns and a quota contradict each other";
  EXPECT_NE(refused.error().to_string().find("pool.hard"), std::string::npos) << refused.error().to_string();
  EXPECT_TRUE(parse_pool_update(json::parse(R"({"policy":"timeslice","hard":false})").value(), hard));
}

TEST(PoolSpec, OnShortageIsForPriorityPools) {
  auto s = parse_pool_spec_text(R"({"name":"p","cpus":1,"memory_mib":64,"policy":"priority","on_shortage":"suspend"})");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->on_shortage, ShortageAction::Suspend);
  EXPECT_EQ(to_json(*s)["on_shortage"], "suspend");
  EXPECT_EQ(parse_pool_spec(to_json(*s))->on_shortage, ShortageAction::Suspend) << "round trip";
  EXPECT_EQ(parse_pool_spec_text(R"({"name":"p","cpus":1,"memory_mib":64})")->on_shortage, ShortageAction::None);
  auto bad = parse_pool_spec_text(R"({"name":"p","cpus":1,"memory_mib":64,"policy":"priority","on_shortage":"kill"})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("none, evict, suspend"), std::string::npos) << bad.error().to_string();
  auto other = parse_pool_update(json::parse(R"({"policy":"proportional"})").value(), *s);
  ASSERT_FALSE(other) << "eviction by priority in a pool without priorities";
  EXPECT_NE(other.error().to_string().find("pool.on_shortage"), std::string::npos) << other.error().to_string();
  EXPECT_TRUE(parse_pool_update(json::parse(R"({"policy":"proportional","on_shortage":"none"})").value(), *s));
}

TEST(PoolMembership, InTheInstanceSpec) {
  auto s = parse_spec_text(R"({"name":"a","rootfs":"/r","pool":{"name":"web","share":2.5,"priority":7}})");
  ASSERT_TRUE(s) << s.error().to_string();
  ASSERT_TRUE(s->pool);
  EXPECT_EQ(s->pool->pool, "web");
  EXPECT_DOUBLE_EQ(s->pool->share, 2.5);
  EXPECT_EQ(s->pool->priority, 7);
  auto again = parse_spec(to_json(*s));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->pool, s->pool);
  auto none = parse_spec_text(R"({"name":"a","rootfs":"/r"})");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->pool);
  EXPECT_FALSE(to_json(*none).contains("pool"));
  auto defaults = parse_spec_text(R"({"name":"a","rootfs":"/r","pool":{"name":"web"}})");
  ASSERT_TRUE(defaults);
  EXPECT_DOUBLE_EQ(defaults->pool->share, 1);
  EXPECT_EQ(defaults->pool->priority, 0);
  EXPECT_FALSE(defaults->pool->best_effort);
  EXPECT_FALSE(to_json(*defaults)["pool"].contains("best_effort")) << "written only when set";
  auto idle = parse_spec_text(R"({"name":"a","rootfs":"/r","pool":{"name":"web","best_effort":true}})");
  ASSERT_TRUE(idle) << idle.error().to_string();
  EXPECT_TRUE(idle->pool->best_effort);
  EXPECT_EQ(parse_spec(to_json(*idle))->pool, idle->pool);
}

TEST(PoolMembership, BadMembershipsAreRefusedWithTheFieldNamed) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {R"("web")", "spec.pool"},
      {R"({})", "spec.pool"},
      {R"({"name":"../x"})", "spec.pool.name"},
      {R"({"name":"w","share":0})", "spec.pool.share"},
      {R"({"name":"w","share":-1})", "spec.pool.share"},
      {R"({"name":"w","share":1e300})", "spec.pool.share"},
      {R"({"name":"w","share":"2"})", "spec.pool.share"},
      {R"({"name":"w","priority":1.5})", "spec.pool.priority"},
      {R"({"name":"w","priority":100000})", "spec.pool.priority"},
      {R"({"name":"w","weight":3})", "weight"},
      {R"({"name":"w","best_effort":1})", "best_effort"},
  };
  for (const auto& [pool, mentions] : cases) {
    auto r = parse_spec_text(R"({"name":"a","rootfs":"/r","pool":)" + pool + "}");
    ASSERT_FALSE(r) << pool;
    EXPECT_NE(r.error().to_string().find(mentions), std::string::npos) << pool << " -> " << r.error().to_string();
  }
}

}  // namespace
}  // namespace vessel::daemon
