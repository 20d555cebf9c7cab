// Pools (docs/daemon/pools.md) for real: vesseld, the CLI, vessel-runtime and the host's cgroups.
// Busy containers in a pool of 1 CPU get CPU time in the ratio of their shares; a high-priority
// member keeps its throughput while low ones are squeezed; a full fixed pool refuses with the numbers;
// timeslice members take turns (one runs at a time) in the ratio of their shares; a best-effort
// member runs SCHED_IDLE.
// The measured figures are printed ("[ measured ]") for docs/daemon/pools.md.
#include <cmath>
#include <fstream>
#include <map>
#include <thread>

#include "daemon_fixture.h"
#include "http/http.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

const std::vector<std::string> kBusy = {"--", "/bin/sh", "-c", "while :; do :; done"};

// The host's last online CPU ("1" here; "0" in a 1-CPU nested host): a pool pinned there.
std::string last_cpu() {
  std::ifstream in("/sys/devices/system/cpu/online");
  std::string list;
  in >> list;
  auto cut = list.find_last_of(",-");
  return cut == std::string::npos ? list : list.substr(cut + 1);
}

// CPU time of each member of `pool`, in ns, from its cgroup.
std::map<std::string, double> cpu_ns_of(const Daemon& daemon, const std::string& pool) {
  std::map<std::string, double> out;
  auto j = daemon.vessel_json({"pool", "inspect", pool, "--json"});
  for (const auto& m : j["members"])
    if (m.contains("usage")) out[m["name"].get<std::string>()] = m["usage"]["cpu_ns"].get<double>();
  return out;
}

// The CPU time each member of `pool` used over `seconds`, in ns (after a second for all to get busy).
std::map<std::string, double> cpu_used_over(const Daemon& daemon, const std::string& pool, int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto before = cpu_ns_of(daemon, pool);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  auto used = cpu_ns_of(daemon, pool);
  for (auto& [name, ns] : used) ns -= before[name];
  return used;
}

// Each member's part of the CPU time `used` is within 10 % of the part `want`ed.
void expect_split(std::map<std::string, double> used, const std::map<std::string, double>& want) {
  double total = 0;
  for (const auto& [name, ns] : used) total += ns;
  for (const auto& [name, expected] : want)
    EXPECT_NEAR(used[name] / total / expected, 1.0, 0.10) << name << ": " << used[name] / total << ", want " << expected;
}

// A cgroup's CPU time in ns, read straight from the kernel (v1 cpuacct.usage, v2 cpu.stat) so
// that it can be sampled every few ms; -1 when there is no such cgroup.
double cgroup_cpu_ns(const std::string& cgroup) {
  for (const char* root : {"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"}) {
    std::ifstream in(std::string(root) + cgroup + "/cpuacct.usage");
    if (double ns = 0; in >> ns) return ns;
  }
  std::ifstream stat("/sys/fs/cgroup" + cgroup + "/cpu.stat");
  for (std::string key; stat >> key;)
    if (double v = 0; stat >> v && key == "usage_usec") return v * 1000;
  return -1;
}

// `vessel policy simulate --json` of a trace written to a file (docs/daemon/policy-simulate.md).
json::Json simulate_trace(Daemon& daemon, const std::string& dir, const std::string& trace) {
  std::string path = dir + "/trace.json";
  std::ofstream(path) << trace;
  auto out = daemon.vessel({"policy", "simulate", "--trace", path, "--json"});
  EXPECT_EQ(out.status, 0) << out.err;
  return json::parse(out.out).value_or(json::Json::object());
}

class Pools : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  void TearDown() override {
    for (const auto& n : started) (void)daemon.vessel({"rm", "-f", n});
    // The pools' cgroups go with them.
    for (const auto& p : daemon.vessel_json({"pool", "ls", "--json"})) (void)daemon.vessel({"pool", "rm", p["name"]});
  }
  void run_member(const std::string& name, const std::string& pool, std::vector<std::string> extra) {
    std::vector<std::string> args{"run", "--name", name, "--rootfs", rootfs, "--memory", "64M", "--pool", pool};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), kBusy.begin(), kBusy.end());
    auto r = daemon.vessel(args);
    ASSERT_EQ(r.status, 0) << r.err;
    started.push_back(name);
  }
  json::Json inspect(const std::string& pool) { return daemon.vessel_json({"pool", "inspect", pool, "--json"}); }
  json::Json simulate(const std::string& trace) { return simulate_trace(daemon, tmp.path, trace); }
  // CPU time of each member, in ns, from its cgroup.
  std::map<std::string, double> cpu_ns(const std::string& pool) {
    std::map<std::string, double> out;
    auto j = inspect(pool);
    for (const auto& m : j["members"])
      if (m.contains("usage")) out[m["name"].get<std::string>()] = m["usage"]["cpu_ns"].get<double>();
    return out;
  }
  // CPU used by each member over `seconds`, in CPUs.
  std::map<std::string, double> rates(const std::string& pool, double seconds) {
    auto before = cpu_ns(pool);
    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
    auto after = cpu_ns(pool);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e9;
    std::map<std::string, double> out;
    for (auto& [name, ns] : after) out[name] = (ns - before[name]) / wall;
    return out;
  }

  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path};
  std::vector<std::string> started;
};

TEST_F(Pools, CreateListInspectSetAndRemove) {
  auto made = daemon.vessel({"pool", "create", "p", "--cpus", "1.5", "--memory", "1G", "--policy", "proportional"});
  ASSERT_EQ(made.status, 0) << made.err;
  EXPECT_NE(daemon.vessel({"pool", "create", "p", "--cpus", "1", "--memory", "1G"}).status, 0) << "name taken";
  auto bad = daemon.vessel({"pool", "create", "q", "--cpus", "1", "--memory", "1G", "--policy", "lottery"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("pool.policy"), std::string::npos) << bad.err;
  auto list = daemon.vessel_json({"pool", "ls", "--json"});
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["policy"], "proportional");
  EXPECT_DOUBLE_EQ(list[0]["cpus"].get<double>(), 1.5);
  EXPECT_EQ(list[0]["memory_mib"], 1024);

  run_member("m", "p", {"--share", "3"});
  auto j = inspect("p");
  ASSERT_EQ(j["members"].size(), 1u) << j.dump();
  const auto& m = j["members"][0];
  EXPECT_EQ(m["state"], "running");
  EXPECT_DOUBLE_EQ(m["share"].get<double>(), 3);
  EXPECT_DOUBLE_EQ(m["allocation"]["cpus"].get<double>(), 1.0) << "capped at its own --cpus 1";
  EXPECT_TRUE(m["usage"].contains("cpu_ns"));
  EXPECT_FALSE(m["applied"].empty()) << m.dump();

  // A member keeps the pool: it cannot be removed.
  auto busy = daemon.vessel({"pool", "rm", "p"});
  EXPECT_NE(busy.status, 0);
  EXPECT_NE(busy.err.find("has members: m"), std::string::npos) << busy.err;
  // Live resize: the member's allocation follows.
  ASSERT_EQ(daemon.vessel({"pool", "set", "p", "--cpus", "0.5"}).status, 0);
  EXPECT_DOUBLE_EQ(inspect("p")["members"][0]["allocation"]["cpus"].get<double>(), 0.5);
  ASSERT_EQ(daemon.vessel({"pool", "set", "p", "--policy", "priority"}).status, 0);
  EXPECT_EQ(inspect("p")["policy"], "priority");
  // An unknown pool is refused at create.
  auto nopool = daemon.vessel({"create", "--name", "x", "--rootfs", rootfs, "--pool", "nope", "--", "/bin/true"});
  EXPECT_NE(nopool.status, 0);
  EXPECT_NE(nopool.err.find("no pool named nope"), std::string::npos) << nopool.err;

  ASSERT_EQ(daemon.vessel({"rm", "-f", "m"}).status, 0);
  started.clear();
  EXPECT_EQ(daemon.vessel({"pool", "rm", "p"}).status, 0);
  EXPECT_TRUE(daemon.vessel_json({"pool", "ls", "--json"}).empty());
}

TEST_F(Pools, AFullFixedPoolRefusesWithTheNumbers) {
  ASSERT_EQ(daemon.vessel({"pool", "create", "f", "--cpus", "1", "--memory", "512M", "--policy", "fixed"}).status, 0);
  run_member("a", "f", {"--cpus", "1"});
  auto full = daemon.vessel({"run", "--name", "b", "--rootfs", rootfs, "--memory", "64M", "--pool", "f", "--", "/bin/true"});
  EXPECT_NE(full.status, 0);
  EXPECT_NE(full.err.find("pool full: quotas 1.000 CPUs given + 1.000 wanted > 1.000 CPUs in the pool"), std::string::npos)
      << full.err;
  // A stopped member holds nothing: b fits once a stops.
  ASSERT_EQ(daemon.vessel({"stop", "--timeout", "0", "a"}).status, 0);
  run_member("b", "f", {});
  auto j = inspect("f");
  EXPECT_DOUBLE_EQ(j["members"][1]["allocation"]["cpus"].get<double>(), 1.0) << j.dump();
  EXPECT_TRUE(j["members"][0]["allocation"].is_null()) << "a is stopped";
}

TEST_F(Pools, ProportionalSharesOneTwoFiveOfOneCpu) {
  ASSERT_EQ(daemon.vessel({"pool", "create", "prop", "--cpus", "1", "--memory", "1G", "--policy", "proportional", "--cpuset", last_cpu()}).status, 0);
  run_member("s1", "prop", {"--share", "1"});
  run_member("s2", "prop", {"--share", "2"});
  run_member("s5", "prop", {"--share", "5"});
  auto j = inspect("prop");
  std::map<std::string, double> want{{"s1", 0.125}, {"s2", 0.25}, {"s5", 0.625}};
  for (const auto& m : j["members"]) EXPECT_DOUBLE_EQ(m["allocation"]["cpus"].get<double>(), want[m["name"].get<std::string>()]) << m.dump();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // all three busy
  auto r = rates("prop", 5);
  double total = r["s1"] + r["s2"] + r["s5"];
  ASSERT_GT(total, 0.3) << "the pool got CPU at all: " << inspect("prop").dump();
  printf("[ measured ] proportional 1:2:5 in 1 CPU: %.3f %.3f %.3f CPUs (shares %.3f %.3f %.3f, total %.3f)\n", r["s1"],
         r["s2"], r["s5"], r["s1"] / total, r["s2"] / total, r["s5"] / total, total);
  EXPECT_LE(total, 1.05) << "the pool's 1 CPU caps them together";
  for (auto& [name, expected] : want) {
    double got = r[name] / total;
    EXPECT_NEAR(got / expected, 1.0, 0.10) << name << ": " << got << " of the pool's CPU time, want " << expected;
  }
  // The simulator, given the same pool and members as a trace, agrees with the real run.
  auto sim = simulate(R"({"pool": {"cpus": 1, "memory_mib": 1024, "policy": "proportional"}, "duration_ms": 5000,
    "events": [{"at_ms": 0, "arrive": "s1", "share": 1}, {"at_ms": 0, "arrive": "s2", "share": 2},
               {"at_ms": 0, "arrive": "s5", "share": 5}]})");
  for (const auto& m : sim["members"]) {
    std::string name = m["name"];
    double simulated = m["used_cpus"].get<double>(), measured = r[name] / total;
    printf("[ measured ] simulator %s: %.3f of the pool, real run %.3f\n", name.c_str(), simulated, measured);
    EXPECT_NEAR(measured / simulated, 1.0, 0.10) << name;
  }
}

TEST_F(Pools, PriorityKeepsTheHighOnesThroughputAndSqueezesTheLowOnes) {
  ASSERT_EQ(daemon.vessel({"pool", "create", "prio", "--cpus", "1", "--memory", "1G", "--policy", "priority", "--cpuset", last_cpu()}).status, 0);
  run_member("high", "prio", {"--priority", "10"});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  double alone = rates("prio", 3)["high"];
  run_member("low1", "prio", {"--priority", "0"});
  run_member("low2", "prio", {"--priority", "0"});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto r = rates("prio", 4);
  printf("[ measured ] priority in 1 CPU: high alone %.3f CPUs; with two low ones high %.3f, low %.3f + %.3f\n", alone,
         r["high"], r["low1"], r["low2"]);
  ASSERT_GT(alone, 0.3);
  EXPECT_GE(r["high"], 0.85 * alone) << "high keeps its throughput";
  EXPECT_LE(r["low1"] + r["low2"], 0.1 * r["high"]) << "low ones are squeezed";
  auto j = inspect("prio");
  for (const auto& m : j["members"]) {
    if (m["name"] == "high") EXPECT_DOUBLE_EQ(m["allocation"]["cpus"].get<double>(), 1.0);
    else EXPECT_DOUBLE_EQ(m["allocation"]["cpus"].get<double>(), 0.0) << m.dump();
  }
  auto sim = simulate(R"({"pool": {"cpus": 1, "memory_mib": 1024, "policy": "priority"}, "duration_ms": 4000,
    "events": [{"at_ms": 0, "arrive": "high", "priority": 10}, {"at_ms": 0, "arrive": "low1"},
               {"at_ms": 0, "arrive": "low2"}]})");
  double total = r["high"] + r["low1"] + r["low2"];
  for (const auto& m : sim["members"]) {
    std::string name = m["name"];
    printf("[ measured ] simulator %s: %.3f of the pool, real run %.3f\n", name.c_str(), m["used_cpus"].get<double>(),
           r[name] / total);
    EXPECT_NEAR(m["used_cpus"].get<double>(), r[name] / total, 0.10) << name;
  }
  // A squeezed member being stopped gets the CPU to handle its SIGTERM: its trap's status, not
  // the 137 of a SIGKILL at the stop timeout.
  auto trapper = daemon.vessel({"run", "--name", "low3", "--rootfs", rootfs, "--memory", "64M", "--pool", "prio", "--priority",
                                "0", "--stop-timeout", "5", "--", "/bin/sh", "-c", "trap 'exit 3' TERM; while :; do :; done"});
  ASSERT_EQ(trapper.status, 0) << trapper.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(daemon.vessel({"stop", "low3"}).status, 0);
  EXPECT_EQ(daemon.vessel_json({"inspect", "low3"})["exit_code"], 3);
}

// demand: the controller (vesseld --policy-period, 1 s by default) moves a member's allocation
// toward what it uses. `waker` blocks on a FIFO until the test writes to it, then spins; its
// allocation has shrunk to the floor by then; once it spins, the controller sees it run or wait
// and raises it. The reaction time is from the start of the command that wakes it until its
// cgroup's CPU weight has at least doubled; the settling time until its allocation passes 0.4 CPUs.
TEST_F(Pools, DemandMovesAMembersAllocationWhenItsLoadChanges) {
  ASSERT_EQ(daemon.vessel({"pool", "create", "dem", "--cpus", "1", "--memory", "512M", "--policy", "demand", "--cpuset", last_cpu()}).status, 0);
  run_member("steady", "dem", {});
  auto r = daemon.vessel({"run", "--name", "waker", "--rootfs", rootfs, "--memory", "64M", "--pool", "dem", "--", "/bin/sh",
                          "-c", "/bin/busybox mkfifo /tmp/go; read x < /tmp/go; while :; do :; done"});
  ASSERT_EQ(r.status, 0) << r.err;
  started.push_back("waker");
  // The pool as the API answers it (faster than the CLI, for the timing).
  http::ClientOptions o;
  o.unix_socket = daemon.socket();
  auto member = [&](const std::string& name) {
    auto got = http::request(o, "GET", "http://localhost/v1/pools/dem", "");
    json::Json j = got ? json::parse(got->body).value_or(json::Json::object()) : json::Json::object();
    for (const auto& m : j.value("members", json::Json::array()))
      if (m.value("name", "") == name) return m;
    return json::Json(json::Json::object());
  };
  auto cpus_of = [](const json::Json& m) { return m["allocation"].is_object() ? m["allocation"].value("cpus", -1.0) : -1.0; };
  auto weight_of = [](const json::Json& m) {
    const json::Json& a = m.value("applied", json::Json::object());
    std::string w = a.contains("cpu.weight") ? a["cpu.weight"].get<std::string>() : a.value("cpu.shares", std::string("0"));
    return std::stod(w);
  };
  // Idle: the controller takes waker down to the floor; steady, busy, keeps the pool.
  ASSERT_TRUE(eventually([&] { return cpus_of(member("waker")) >= 0 && cpus_of(member("waker")) < 0.1; }, 600))
      << member("waker").dump() << daemon.log();
  EXPECT_GT(cpus_of(member("steady")), 0.8) << member("steady").dump();
  ASSERT_TRUE(member("waker").contains("demand")) << "the controller's estimate is shown";
  double weight_before = weight_of(member("waker"));
  double steady_before = cpus_of(member("steady"));
  // From before the exec: the load starts during it (a container exec takes ~0.5-0.9 s here).
  auto t0 = std::chrono::steady_clock::now();
  auto woken = daemon.vessel({"exec", "waker", "--", "/bin/sh", "-c", "echo > /tmp/go"});
  ASSERT_EQ(woken.status, 0) << woken.err;
  double exec_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double reaction_s = -1, settled_s = -1;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30) && settled_s < 0) {
    auto m = member("waker");
    double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (reaction_s < 0 && weight_of(m) >= 2 * weight_before) reaction_s = since;
    if (cpus_of(m) > 0.4) settled_s = since;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto waker = member("waker");
  printf("[ measured ] demand controller (period 1 s, gain 0.5): reaction %.2f s from the start of the exec (which took "
         "%.2f s) to waker's cgroup CPU weight %g -> %g; allocation above 0.4 CPUs after %.2f s; waker %.3f CPUs, steady "
         "%.3f -> %.3f CPUs\n",
         reaction_s, exec_s, weight_before, weight_of(waker), settled_s, cpus_of(waker), steady_before,
         cpus_of(member("steady")));
  EXPECT_GE(reaction_s, 0) << "waker's weight never doubled: " << waker.dump() << daemon.log();
  EXPECT_GE(settled_s, 0) << "waker's allocation never passed 0.4 CPUs: " << waker.dump();
  EXPECT_LT(cpus_of(member("steady")), steady_before) << "what waker got, steady gave up";
}

// Samples the members' CPU time every `step` for `seconds`: one row per sample.
std::vector<std::vector<double>> sample_cpu_ns(const std::vector<std::string>& cgroups, double seconds,
                                               std::chrono::microseconds step) {
  std::vector<std::vector<double>> rows;
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  for (auto next = std::chrono::steady_clock::now(); next < end; next += step) {
    std::this_thread::sleep_until(next);
    std::vector<double> row;
    for (const auto& c : cgroups) row.push_back(cgroup_cpu_ns(c));
    rows.push_back(std::move(row));
  }
  return rows;
}

TEST_F(Pools, TimesliceTakesTurnsOneTwoFiveOfOneCpu) {
  auto made = daemon.vessel({"pool", "create", "ts", "--cpus", "1", "--memory", "1G", "--policy", "timeslice", "--round",
                             "400ms", "--cpuset", last_cpu()});
  ASSERT_EQ(made.status, 0) << made.err;
  run_member("s1", "ts", {"--share", "1"});
  run_member("s2", "ts", {"--share", "2"});
  run_member("s5", "ts", {"--share", "5"});
  auto j = inspect("ts");
  ASSERT_TRUE(j["rotation"].is_object()) << j.dump();
  EXPECT_EQ(j["round_ms"], 400);
  std::map<std::string, double> want{{"s1", 0.125}, {"s2", 0.25}, {"s5", 0.625}};
  std::vector<std::string> names, cgroups;
  for (const auto& m : j["members"]) {
    std::string name = m["name"];
    EXPECT_DOUBLE_EQ(m["allocation"]["cpus"].get<double>(), want[name]) << m.dump();
    EXPECT_DOUBLE_EQ(m["slice_ms"].get<double>(), want[name] * 400) << "T_i = A_i / sum A x W: " << m.dump();
    names.push_back(name);
    cgroups.push_back(m["cgroup"]);
    ASSERT_GE(cgroup_cpu_ns(cgroups.back()), 0) << "no CPU counter for " << cgroups.back();
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // all three busy, the rotation under way
  // 8 s = 20 rounds: a turn cut by the window's ends is at most 3 % of it.
  auto rows = sample_cpu_ns(cgroups, 8, std::chrono::milliseconds(5));
  ASSERT_GT(rows.size(), 100u);
  std::vector<double> used(names.size());
  double total = 0;
  for (size_t i = 0; i < names.size(); ++i) total += used[i] = rows.back()[i] - rows.front()[i];
  ASSERT_GT(total, 0.3 * 8e9) << "the pool got CPU at all: " << inspect("ts").dump();
  printf("[ measured ] timeslice 1:2:5 in 1 CPU, round 400 ms: %.3f %.3f %.3f of the pool's CPU time (%.3f CPUs)\n",
         used[0] / total, used[1] / total, used[2] / total, total / 8e9);
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_NEAR(used[i] / total / want[names[i]], 1.0, 0.10) << names[i] << ": " << used[i] / total;
  // At a fine grain one member runs at a time: in most 5 ms steps one member's time grows (by more
  // than 1 ms) and the others' do not. Steps that cross a turn show two.
  size_t busy = 0, alone = 0;
  for (size_t r = 1; r < rows.size(); ++r) {
    size_t growing = 0;
    for (size_t i = 0; i < names.size(); ++i) growing += rows[r][i] - rows[r - 1][i] > 1e6 ? 1 : 0;
    busy += growing > 0 ? 1 : 0;
    alone += growing == 1 ? 1 : 0;
  }
  printf("[ measured ] timeslice: %zu of %zu busy 5 ms steps show one member running\n", alone, busy);
  ASSERT_GT(busy, rows.size() / 4);
  EXPECT_GE(static_cast<double>(alone) / static_cast<double>(busy), 0.8);

  // Another policy: the rotation stops, and no member is left at the off-turn quota.
  ASSERT_EQ(daemon.vessel({"pool", "set", "ts", "--policy", "proportional"}).status, 0);
  auto after = inspect("ts");
  EXPECT_TRUE(after["rotation"].is_null()) << after.dump();
  for (const auto& m : after["members"]) {
    const auto& applied = m["applied"];
    std::string quota = applied.contains("cpu.max") ? applied["cpu.max"].get<std::string>()
                                                    : applied.value("cpu.cfs_quota_us", "") + " " +
                                                          applied.value("cpu.cfs_period_us", "");
    EXPECT_EQ(quota.find("1000000"), std::string::npos) << m["name"] << ": " << quota;
  }
}

TEST_F(Pools, APriorityPoolShortOfMemoryStopsItsLowestMember) {
  // 150 MiB: two members of 64 MiB fit, a third does not.
  ASSERT_EQ(daemon.vessel({"pool", "create", "short", "--cpus", "1", "--memory", "150M", "--policy", "priority",
                           "--on-shortage", "evict", "--cpuset", last_cpu()}).status, 0);
  EXPECT_EQ(inspect("short")["on_shortage"], "evict");
  run_member("low", "short", {"--priority", "0"});
  run_member("mid", "short", {"--priority", "5"});
  CliResult events;
  {
    std::jthread watcher([&] {
      events = run({"timeout", "15", vessel_path(), "--socket", daemon.socket(), "events"}, std::chrono::seconds(30));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    run_member("high", "short", {"--priority", "10"});
    auto started = std::chrono::steady_clock::now();
    std::string low;
    // Stopped with a grace of 1 s (a busy sh as PID 1 ignores SIGTERM).
    for (int i = 0; i < 100 && (low = state_of(daemon, "low")) == "running"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (i == 20) printf("[ diagnose ] 2 s on: %s\n", inspect("short")["members"].dump().c_str());
    }
    EXPECT_EQ(low, "stopped") << inspect("short").dump() << daemon.log();
    printf("[ measured ] on-shortage evict: low stopped %.1f s after high started\n",
           std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    EXPECT_EQ(state_of(daemon, "mid"), "running");
    EXPECT_EQ(state_of(daemon, "high"), "running");
  }
  EXPECT_NE(events.out.find(R"("type":"pool-shortage")"), std::string::npos) << events.out << daemon.log();
  EXPECT_NE(events.out.find(R"("action":"stop")"), std::string::npos) << events.out;
  // Without a shortage policy, nothing is stopped; and only priority pools take one.
  ASSERT_EQ(daemon.vessel({"pool", "set", "short", "--on-shortage", "none"}).status, 0);
  auto refused = daemon.vessel({"pool", "set", "short", "--policy", "proportional", "--on-shortage", "evict"});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("on_shortage"), std::string::npos) << refused.err;
  ASSERT_EQ(daemon.vessel({"start", "low"}).status, 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(state_of(daemon, "low"), "running");
  // The squeezed ones stop at once only when the busy high one is gone (see pools.md, Shortage).
  EXPECT_EQ(daemon.vessel({"rm", "-f", "high"}).status, 0);
}

TEST_F(Pools, ABestEffortMemberRunsSchedIdle) {
  ASSERT_EQ(daemon.vessel({"pool", "create", "be", "--cpus", "1", "--memory", "1G", "--policy", "priority", "--cpuset", last_cpu()}).status, 0);
  run_member("normal", "be", {});
  run_member("idle", "be", {"--best-effort"});
  auto j = inspect("be");
  for (const auto& m : j["members"]) {
    bool best_effort = m["name"] == "idle";
    EXPECT_EQ(m["best_effort"], best_effort) << m.dump();
    const auto& idle = m["sched_idle"];
    ASSERT_TRUE(idle.is_object()) << m.dump();
    if (idle.contains("cpu.idle")) {
      EXPECT_EQ(idle["cpu.idle"], best_effort ? 1 : 0) << m.dump();
    } else if (best_effort) {
      EXPECT_EQ(idle["idle_threads"], idle["threads"]) << m.dump();
    }
  }
  // Same priority, same share, both busy: the best-effort one gets what the other leaves, ~nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto r = rates("be", 3);
  printf("[ measured ] best-effort beside a busy member in 1 CPU: normal %.3f CPUs, best-effort %.3f\n", r["normal"], r["idle"]);
  ASSERT_GT(r["normal"], 0.3);
  EXPECT_LE(r["idle"], 0.05 * r["normal"]);
}

// The same with test-kit VMs: vessel-vmm's cgroup (its vCPU threads included) is the member's.
class PoolVms : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  void TearDown() override {
    for (const auto& n : started) (void)daemon.vessel({"rm", "-f", n});
    for (const auto& p : daemon.vessel_json({"pool", "ls", "--json"})) (void)daemon.vessel({"pool", "rm", p["name"]});
  }
  void run_vm(const std::string& name, const std::string& pool, int share) {
    // counter: a ring-3 busy loop that prints a line every 2^26 iterations, for ever here.
    auto r = daemon.vessel({"run", "--vm", "--name", name, "--kernel", guest("counter"), "--cmdline", "count=100000000",
                            "--memory", "32M", "--stop-timeout", "0", "--pool", pool, "--share", std::to_string(share)});
    ASSERT_EQ(r.status, 0) << r.err << daemon.log();
    started.push_back(name);
  }
  TempDir tmp;
  Daemon daemon{tmp.path, {"--vmm", vmm()}};
  std::vector<std::string> started;
};

TEST_F(PoolVms, ProportionalSharesOneTwoFiveOfOneCpu) {
  ASSERT_EQ(daemon.vessel({"pool", "create", "vms", "--cpus", "1", "--memory", "1G", "--policy", "proportional", "--cpuset", last_cpu()}).status, 0);
  run_vm("v1", "vms", 1);
  run_vm("v2", "vms", 2);
  run_vm("v5", "vms", 5);
  auto j = daemon.vessel_json({"pool", "inspect", "vms", "--json"});
  std::map<std::string, double> want{{"v1", 0.125}, {"v2", 0.25}, {"v5", 0.625}};
  for (const auto& m : j["members"]) {
    EXPECT_DOUBLE_EQ(m["allocation"]["cpus"].get<double>(), want[m["name"].get<std::string>()]) << m.dump();
    EXPECT_EQ(m["type"], "vm");
  }
  auto used = cpu_used_over(daemon, "vms", 5);
  double total = used["v1"] + used["v2"] + used["v5"];
  ASSERT_GT(total, 0.3 * 5e9) << daemon.vessel_json({"pool", "inspect", "vms", "--json"}).dump();
  printf("[ measured ] VMs proportional 1:2:5 in 1 CPU: %.3f %.3f %.3f CPUs (shares %.3f %.3f %.3f)\n", used["v1"] / 5e9,
         used["v2"] / 5e9, used["v5"] / 5e9, used["v1"] / total, used["v2"] / total, used["v5"] / total);
  expect_split(used, want);
}

TEST_F(PoolVms, TimesliceTurnsOneTwoFiveOfOneCpu) {
  ASSERT_EQ(daemon.vessel({"pool", "create", "vts", "--cpus", "1", "--memory", "1G", "--policy", "timeslice", "--round", "400ms",
                           "--cpuset", last_cpu()}).status, 0);
  run_vm("v1", "vts", 1);
  run_vm("v2", "vts", 2);
  run_vm("v5", "vts", 5);
  auto j = daemon.vessel_json({"pool", "inspect", "vts", "--json"});
  std::map<std::string, double> want{{"v1", 0.125}, {"v2", 0.25}, {"v5", 0.625}};
  for (const auto& m : j["members"]) EXPECT_DOUBLE_EQ(m["slice_ms"].get<double>(), want[m["name"].get<std::string>()] * 400) << m.dump();
  auto used = cpu_used_over(daemon, "vts", 8);
  double total = used["v1"] + used["v2"] + used["v5"];
  ASSERT_GT(total, 0.3 * 8e9) << daemon.vessel_json({"pool", "inspect", "vts", "--json"}).dump();
  printf("[ measured ] VMs timeslice 1:2:5 in 1 CPU, round 400 ms: %.3f %.3f %.3f of the pool's CPU time\n",
         used["v1"] / total, used["v2"] / total, used["v5"] / total);
  expect_split(used, want);
}

}  // namespace
}  // namespace vessel::test
