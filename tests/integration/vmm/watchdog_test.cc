// The IB700 watchdog (docs/vmm/watchdog.md) with the test-kit guest `watchdog`: it starts the
// watchdog, pets it once a second, then hangs with interrupts off. Times are not asserted (the
// nested host is emulated); what is asserted is how the VM ended.
#include <signal.h>

#include "http/http.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

json::Json config(const std::string& args, const std::string& action) {
  return {{"boot-source", {{"kernel_image_path", guest("watchdog.elf")}, {"boot_args", args}}},
          {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 32}}},
          {"watchdog", {{"model", "ib700"}, {"action", action}}}};
}

TEST(Watchdog, AHungGuestEndsTheVmWithExitReasonWatchdog) {
  TempDir dir;
  // 2 s timeout, 4 pets a second apart: the VM outlives the timeout only through the pets.
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("value=14 pets=4", "poweroff").dump()));
  auto r = run_vmm({"--config-file", dir.file("vm.json")}, std::chrono::seconds(90));
  EXPECT_EQ(r.status.code, 4) << r.errors << r.console;
  EXPECT_NE(r.console.find("watchdog: pet 4"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("watchdog: hanging"), std::string::npos) << r.console;
  EXPECT_EQ(r.metrics["exit"]["kind"], "watchdog") << r.metrics.dump();
  EXPECT_EQ(r.metrics["watchdog"]["pets"], 5) << r.metrics.dump();  // the start and 4 pets
  EXPECT_EQ(r.metrics["watchdog"]["expirations"], 1) << r.metrics.dump();
  EXPECT_NE(r.errors.find("watchdog"), std::string::npos) << r.errors;
}

TEST(Watchdog, AStoppedWatchdogNeverFires) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("value=14 stop wait=4", "poweroff").dump()));
  auto r = run_vmm({"--config-file", dir.file("vm.json")}, std::chrono::seconds(90));
  EXPECT_EQ(r.status.code, 7) << r.errors << r.console;
  EXPECT_EQ(r.metrics["exit"]["kind"], "debug-exit") << r.metrics.dump();
  EXPECT_EQ(r.metrics["watchdog"]["stops"], 1) << r.metrics.dump();
  EXPECT_EQ(r.metrics["watchdog"]["expirations"], 0) << r.metrics.dump();
}

// Action reset with on_reboot restart: the VM is built and booted again in the same process (the
// guest hangs again each time; the test stops it after the first restart).
TEST(Watchdog, ResetWithOnRebootRestartBootsTheVmAgain) {
  TempDir dir;
  auto cfg = config("value=14 pets=0", "reset");
  cfg["vessel"] = {{"on_reboot", "restart"}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  VmmProcess p({"--config-file", dir.file("vm.json"), "--shutdown-timeout", "1"});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto boots = [&] {
    std::string c = p.console();
    size_t n = 0;
    for (size_t at = c.find("watchdog: started"); at != std::string::npos; at = c.find("watchdog: started", at + 1)) ++n;
    return n;
  };
  while (boots() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(boots(), 2u) << p.console() << p.errors();
  // Ctrl+Alt+Del goes unanswered: stopped after 1 s, unless the watchdog of the boot under way
  // runs out first, which then ends the process (a reset after SIGTERM does not restart).
  (void)p.process().signal(SIGTERM);
  auto r = p.finish(std::chrono::seconds(30));
  std::string kind = r.metrics.contains("exit") ? r.metrics["exit"].value("kind", "") : "";
  EXPECT_TRUE(kind == "terminated" || kind == "watchdog") << r.metrics.dump();
  EXPECT_GE(r.metrics.value("reboots", 0), 1) << r.metrics.dump();
  ASSERT_TRUE(r.metrics.contains("watchdog")) << r.metrics.dump();
  EXPECT_GE(r.metrics["watchdog"].value("expirations", 0), 1) << r.metrics.dump();
}

// Action pause: the VM stays, paused, and says why in its metrics; the API still answers.
TEST(Watchdog, PauseLeavesTheVmPaused) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("value=14 pets=1", "pause").dump()));
  std::string sock = dir.file("api.sock");
  VmmProcess p({"--api-sock", sock, "--config-file", dir.file("vm.json")});
  ASSERT_TRUE(p.wait_for_file(sock)) << p.errors();
  ASSERT_TRUE(p.wait_for_console("watchdog: hanging", std::chrono::seconds(60))) << p.console();
  http::ClientOptions o;
  o.unix_socket = sock;
  o.timeout = std::chrono::seconds(30);
  json::Json state, wdt;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = http::request(o, "GET", "http://localhost/", "");
    ASSERT_TRUE(r && r->status == 200);
    state = json::parse(r->body).value_or(json::Json());
    if (state["state"] == "Paused") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(state["state"], "Paused") << state.dump();
  auto w = http::request(o, "GET", "http://localhost/watchdog", "");
  ASSERT_TRUE(w && w->status == 200);
  wdt = json::parse(w->body).value_or(json::Json());
  EXPECT_EQ(wdt["action"], "pause") << wdt.dump();
  EXPECT_EQ(wdt["expirations"], 1) << wdt.dump();
  EXPECT_EQ(wdt["armed"], false) << wdt.dump();
  (void)p.process().signal(SIGKILL);
  (void)p.finish(std::chrono::seconds(10));
}

}  // namespace
}  // namespace vessel::vmm::test
