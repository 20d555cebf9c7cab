// Memory by demand for VMs (docs/daemon/pools.md; labels kvm, slow, linux-boot: the nested KVM
// host): two default Linux guests with `--balloon` in a `demand` pool. Both idle at first: the
// controller sizes each from its guest's balloon statistics and inflates its balloon. Then one
// fills 140 MiB of its tmpfs, 10 MiB a second (its guest has ~206 MiB of MemTotal: 180 MiB got
// it OOM-killed whatever the balloon), the controller deflates its balloon as it goes and its
// memory allocation grows, while the idle one's balloon stays inflated.
#include <chrono>
#include <thread>

#include "daemon_fixture.h"
#include "default_guest.h"

namespace vessel::test {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1 << 20;

class PoolBalloon : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(find_default_guest(guest));
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  json::Json member(const std::string& name) {
    for (const auto& m : daemon.vessel_json({"pool", "inspect", "mem", "--json"}).value("members", json::Json::array()))
      if (m.value("name", "") == name) return m;
    return json::Json::object();
  }
  static uint64_t allocated(const json::Json& m) {
    return m["allocation"].is_object() ? m["allocation"].value("memory_bytes", uint64_t{0}) : 0;
  }
  static uint64_t balloon(const json::Json& m, const char* field) {
    return m.contains("balloon") ? m["balloon"].value(field, uint64_t{0}) : 0;
  }
  // Polls every 2 s until `pred` holds or the budget is spent.
  template <typename Pred>
  bool within(std::chrono::seconds budget, Pred pred) {
    auto until = std::chrono::steady_clock::now() + budget;
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(2s);
    }
    return pred();
  }
  CliResult vessel_long(const std::vector<std::string>& args, std::chrono::seconds timeout) {
    std::vector<std::string> argv{vessel_path(), "--socket", daemon.socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, timeout);
  }

  DefaultGuest guest;
  TempDir tmp;
  Daemon daemon{tmp.path, {"--vmm", default_guest_vmm()}};
};

TEST_F(PoolBalloon, AnIdleVmsBalloonInflatesAndMemoryMovesToTheBusyOne) {
  bool pvm = on_pvm();
  auto budget = std::chrono::seconds(pvm ? 3600 : 600);
  ASSERT_NO_FATAL_FAILURE(import_default_guest(daemon, guest, "mount -o remount,size=230m /tmp; sleep 100000"));
  ASSERT_EQ(daemon.vessel({"pool", "create", "mem", "--cpus", "2", "--memory", "640M", "--policy", "demand"}).status, 0);
  for (const char* name : {"idle", "busy"}) {
    auto r = daemon.vessel({"run", "--vm", "--balloon", "--pool", "mem", "--name", name, "--memory", "256M",
                            "--stop-timeout", "0", "linux"});
    ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  }
  // Both guests up, their balloon drivers sending statistics, and vessel-agent answering.
  ASSERT_TRUE(within(budget, [&] {
    return member("idle")["balloon"].contains("guest_total_bytes") && member("busy")["balloon"].contains("guest_total_bytes");
  })) << member("idle").dump() << member("busy").dump() << daemon.log();
  ASSERT_TRUE(within(budget, [&] { return daemon.vessel({"exec", "busy", "--", "true"}).status == 0; }));
  // Idle: the controller inflates both balloons toward what the guests use.
  ASSERT_TRUE(within(budget, [&] {
    return balloon(member("idle"), "actual_mib") >= 64 && balloon(member("busy"), "actual_mib") >= 64;
  })) << member("idle").dump() << member("busy").dump();
  json::Json busy_before = member("busy"), idle_before = member("idle");
  printf("[ measured ] idle guests: idle VM allocation %llu MiB, balloon %llu MiB; busy VM allocation %llu MiB, balloon "
         "%llu MiB\n",
         static_cast<unsigned long long>(allocated(idle_before) / kMiB),
         static_cast<unsigned long long>(balloon(idle_before, "actual_mib")),
         static_cast<unsigned long long>(allocated(busy_before) / kMiB),
         static_cast<unsigned long long>(balloon(busy_before, "actual_mib")));

  auto started = std::chrono::steady_clock::now();
  auto fill = vessel_long({"exec", "busy", "--", "sh", "-c",
                           "i=0; while [ $i -lt 14 ]; do dd if=/dev/zero of=/tmp/f$i bs=1M count=10 2>/dev/null || "
                           "{ echo fill failed at $i; grep Mem /proc/meminfo; dmesg | tail -3; exit 1; }; "
                           "i=$((i+1)); sleep 1; done; grep -E 'MemTotal|MemAvailable' /proc/meminfo"},
                          budget);
  auto fill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(fill.status, 0) << fill.out << fill.err << daemon.log();
  // The busy guest holds 140 MiB more: its allocation grows and its balloon deflates.
  EXPECT_TRUE(within(budget, [&] { return allocated(member("busy")) >= allocated(busy_before) + 100 * kMiB; }))
      << member("busy").dump();
  auto grown_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  json::Json busy = member("busy"), idle = member("idle");
  auto inspected = daemon.vessel_json({"inspect", "idle"});
  printf("[ measured ] after filling 140 MiB in %.0f s (allocation grown after %.0f s): busy VM allocation %llu -> %llu "
         "MiB, balloon %llu -> %llu MiB; idle VM allocation %llu MiB, balloon %llu MiB; guest: %s\n",
         fill_s, grown_s, static_cast<unsigned long long>(allocated(busy_before) / kMiB),
         static_cast<unsigned long long>(allocated(busy) / kMiB),
         static_cast<unsigned long long>(balloon(busy_before, "actual_mib")),
         static_cast<unsigned long long>(balloon(busy, "actual_mib")), static_cast<unsigned long long>(allocated(idle) / kMiB),
         static_cast<unsigned long long>(balloon(idle, "actual_mib")), fill.out.c_str());
  EXPECT_GE(balloon(idle, "actual_mib"), 64u) << "the idle VM's balloon stays inflated: " << idle.dump();
  EXPECT_LE(balloon(busy, "target_mib") + 64, balloon(busy_before, "actual_mib"))
      << "the busy VM's balloon deflated: " << busy.dump();
  EXPECT_GT(allocated(busy), allocated(idle) + 64 * kMiB) << "memory moved to the busy VM";
  // `vessel inspect` shows the balloon as it is now.
  ASSERT_TRUE(inspected.contains("balloon")) << inspected.dump();
  EXPECT_TRUE(inspected["balloon"].contains("target_mib")) << inspected.dump();
  EXPECT_TRUE(inspected["balloon"].contains("actual_mib")) << inspected.dump();
  EXPECT_EQ(inspected["balloon"].value("deflate_on_oom", false), true);
}

}  // namespace
}  // namespace vessel::test
