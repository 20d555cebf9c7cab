// The demand controller's step (daemon/instances/demand_controller.h) with a fake DemandIo: a
// member whose load rises gets its allocation moved toward it, an idle one's shrinks; an idle
// VM's balloon inflates and a busy one's deflates, so memory moves from the one to the other.
// Also the parsers of the counters it reads (usage_counters.h) and the spec's balloon.
#include <gtest/gtest.h>

#include <map>

#include "daemon/instances/demand_controller.h"
#include "daemon/policy/usage_counters.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
using namespace std::chrono_literals;

// One pool; each member's load is set by the test, and time moves 1 s per step.
class FakeIo : public DemandIo {
 public:
  struct Load {
    double cpus = 0;        // CPUs it runs
    double waiting = 0;     // CPUs' worth it waits
    uint64_t memory = 0;    // cgroup usage
    std::optional<uint64_t> guest_used_mib;  // a VM's guest: MiB in use
  };
  DemandPool pool{"p", {{2, 1024 * kMiB}, PolicyKind::Demand, false}, {}};
  std::map<std::string, Load> load;
  std::map<std::string, Resources> in_force;
  std::map<std::string, uint64_t> balloon;  // target MiB
  std::map<std::string, UsageCounters> counters;
  int applied = 0;
  bool stale = false;
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + 1000s;

  void add(const std::string& name, Resources max, bool vm = false) {
    DemandMember m;
    m.name = name;
    m.max = max;
    m.vm = vm;
    if (vm) {
      m.guest_mib = max.memory_bytes / kMiB - 96;
      m.overhead_bytes = 96 * kMiB;
      m.balloon = BalloonSpec{};
    }
    pool.members.push_back(m);
  }
  void tick() { now += 1s; }

  std::vector<DemandPool> demand_pools() override {
    DemandPool p = pool;
    for (auto& m : p.members)
      if (auto it = in_force.find(m.name); it != in_force.end()) m.current = it->second;
    return {p};
  }
  std::optional<MemberReading> read(const DemandMember& m) override {
    const Load& l = load[m.name];
    UsageCounters& c = counters[m.name];
    if (c.at != std::chrono::steady_clock::time_point{}) {
      c.cpu_ns += static_cast<uint64_t>(l.cpus * 1e9);
      *c.cpu_wait_us += static_cast<uint64_t>(l.waiting * 1e6);
    } else {
      c.cpu_wait_us = 0;
    }
    c.at = now;
    c.memory_bytes = l.memory;
    MemberReading r{c, std::nullopt};
    if (m.balloon && l.guest_used_mib) {
      uint64_t target = balloon[m.name];
      uint64_t total = (m.guest_mib - target) * kMiB;  // deflate_on_oom is on: the balloon is in total
      total += target * kMiB;
      uint64_t used = (*l.guest_used_mib + target) * kMiB;
      r.balloon = BalloonFigures{target, target, total, total - std::min(total, used)};
    }
    return r;
  }
  Result<void> apply(const DemandPool& p, const std::vector<Resources>&, const std::vector<Allocation>& a) override {
    if (stale) return fail(ESTALE, "changed");
    ++applied;
    for (size_t i = 0; i < a.size(); ++i) in_force[p.members[i].name] = a[i].amount;
    return {};
  }
  Result<void> set_balloon(const DemandMember& m, uint64_t target) override {
    balloon[m.name] = target;
    return {};
  }
};

void run(DemandController& c, FakeIo& io, int steps) {
  for (int i = 0; i < steps; ++i) {
    c.step();
    io.tick();
  }
}

TEST(DemandController, AMemberWhoseLoadRisesGetsMoreAndAnIdleOneLess) {
  FakeIo io;
  io.add("busy", {2, 512 * kMiB});
  io.add("idle", {2, 512 * kMiB});
  io.load["busy"] = {1.0, 0.9, 100 * kMiB};
  io.load["idle"] = {0.0, 0.0, 10 * kMiB};
  DemandController c(io);
  c.step();  // the first reading: nothing to compare with, allocations stay (at their max)
  io.tick();
  EXPECT_EQ(io.applied, 1);
  EXPECT_DOUBLE_EQ(io.in_force["busy"].cpus + io.in_force["idle"].cpus, 2.0) << "start: their max, scaled into the pool";
  run(c, io, 8);
  // busy wants (1 + 0.9) x 1.25 = 2.375 (capped at 2 and by the pool), idle the floor 0.05.
  EXPECT_GT(io.in_force["busy"].cpus, 1.9);
  EXPECT_LT(io.in_force["idle"].cpus, 0.1);
  EXPECT_LT(io.in_force["idle"].memory_bytes, 50 * kMiB) << "10 MiB used + 32 MiB headroom";
  // The idle one wakes up: its allocation follows within a step or two.
  double before = io.in_force["idle"].cpus;
  io.load["idle"] = {0.3, 0.7, 10 * kMiB};
  run(c, io, 1);
  EXPECT_GT(io.in_force["idle"].cpus, before + 0.3) << "half the gap to its demand in one step";
}

TEST(DemandController, AStalePoolIsLeftForTheNextStep) {
  FakeIo io;
  io.add("a", {1, 256 * kMiB});
  io.load["a"] = {0, 0, 0};
  io.stale = true;
  DemandController c(io);
  run(c, io, 3);
  EXPECT_EQ(io.applied, 0);
  EXPECT_TRUE(io.in_force.empty());
}

TEST(DemandController, AnIdleVmsBalloonInflatesAndMemoryMovesToTheBusyOne) {
  FakeIo io;
  io.pool.shape.size = {2, 512 * kMiB};
  io.add("idle", {1, (256 + 96) * kMiB}, true);
  io.add("busy", {1, (256 + 96) * kMiB}, true);
  io.load["idle"] = {0.0, 0, 300 * kMiB, 40};
  io.load["busy"] = {0.0, 0, 300 * kMiB, 40};
  DemandController c(io);
  run(c, io, 10);
  // Both idle: each settles near 96 + 40 + 34 MiB, the rest of its 256 MiB in the balloon.
  EXPECT_GT(io.balloon["idle"], 64u);
  EXPECT_GT(io.balloon["busy"], 64u);
  uint64_t busy_before = io.in_force["busy"].memory_bytes;
  uint64_t idle_before = io.in_force["idle"].memory_bytes;
  // The busy guest fills its RAM step by step; the controller deflates its balloon as it goes.
  for (uint64_t used = 60; used <= 200; used += 20) {
    uint64_t room = 256 - io.balloon["busy"];
    io.load["busy"].guest_used_mib = std::min(used, room - 8);  // it cannot use what it does not have
    run(c, io, 1);
  }
  run(c, io, 5);
  EXPECT_GT(io.in_force["busy"].memory_bytes, busy_before + 100 * kMiB) << "memory moved to the busy one";
  EXPECT_LE(io.in_force["idle"].memory_bytes, idle_before) << "the idle one holds no more than before";
  EXPECT_GT(io.balloon["idle"], 64u) << "the idle VM's balloon stays inflated";
  EXPECT_LT(io.balloon["busy"], 30u) << "the busy VM's balloon deflated";
  EXPECT_LE(io.in_force["busy"].memory_bytes + io.in_force["idle"].memory_bytes, 512 * kMiB) << "within the pool";
}

TEST(DemandController, AVmWithoutBalloonFiguresKeepsItsMemory) {
  FakeIo io;
  io.add("vm", {1, 352 * kMiB}, true);
  io.load["vm"] = {0.0, 0, 100 * kMiB, std::nullopt};  // no statistics (yet)
  DemandController c(io);
  run(c, io, 5);
  EXPECT_EQ(io.in_force["vm"].memory_bytes, 352 * kMiB);
  EXPECT_TRUE(io.balloon.empty()) << "nothing to size it by";
}

TEST(UsageCounters, PsiAndSchedstatParse) {
  EXPECT_EQ(psi_some_total("some avg10=96.01 avg60=77.70 avg300=30.61 total=123187609\nfull avg10=0.00 avg60=0.00 "
                           "avg300=0.00 total=0\n"),
            123187609u);
  EXPECT_FALSE(psi_some_total("full avg10=0.00 total=5\n"));
  EXPECT_FALSE(psi_some_total("some avg10=1.00\ntotal=5\n")) << "the total must be on the some line";
  EXPECT_FALSE(psi_some_total("some total=x"));
  EXPECT_FALSE(psi_some_total(""));
  EXPECT_EQ(schedstat_run_delay("3942246 13330823 3\n"), 13330823u);
  EXPECT_FALSE(schedstat_run_delay("3942246"));
  EXPECT_FALSE(schedstat_run_delay("1 -2 3"));
}

TEST(BalloonSpec, DefaultsFieldsAndErrors) {
  auto vm = [](json::Json balloon) {
    return parse_spec({{"name", "v"}, {"type", "vm"}, {"kernel", "/k"}, {"balloon", balloon}});
  };
  auto s = vm(json::Json::object());
  ASSERT_TRUE(s) << s.error().to_string();
  ASSERT_TRUE(s->balloon);
  EXPECT_EQ(*s->balloon, BalloonSpec{});
  EXPECT_EQ(to_json(*s)["balloon"]["stats_polling_interval_s"], 1);
  s = vm({{"deflate_on_oom", false}, {"stats_polling_interval_s", 5u}, {"free_page_reporting", false}});
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(*s->balloon, (BalloonSpec{false, 5, false}));
  EXPECT_EQ(parse_spec(to_json(*s))->balloon, s->balloon) << "round trip";
  auto bad = vm({{"stats_polling_interval_s", 0u}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("spec.balloon.stats_polling_interval_s: 0 is outside 1..60"), std::string::npos)
      << bad.error().to_string();
  bad = vm({{"amount_mib", 5}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("amount_mib"), std::string::npos);
  bad = parse_spec({{"name", "c"}, {"rootfs", "/r"}, {"balloon", json::Json::object()}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("for VMs"), std::string::npos);
}

}  // namespace
}  // namespace vessel::daemon
