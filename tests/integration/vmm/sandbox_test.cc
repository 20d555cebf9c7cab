// vessel-vmm's seccomp filters on a real VM (docs/vmm/sandbox.md): every thread of a running VMM
// (vCPUs, VMM, API, console, signals, virtio devices and their I/O workers) shows `Seccomp: 2` in
// /proc, the VM does its I/O, answers the API and stops under them; --seccomp-level 0 turns them off.
#include <dirent.h>
#include <signal.h>

#include <map>
#include <set>

#include "base/unix_socket.h"
#include "http/http.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

// Thread id -> {name, the Seccomp: line's value} for every thread of `pid`.
std::map<std::string, std::pair<std::string, std::string>> threads_of(pid_t pid) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  std::string dir = fmt::format("/proc/{}/task", pid);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto status = read_file(dir + "/" + e->d_name + "/status");
    if (!status) continue;
    std::string name, seccomp;
    auto field = [&](const std::string& key) {
      size_t at = status->rfind(key + ":", 0) == 0 ? 0 : status->find("\n" + key + ":");
      if (at == std::string::npos) return std::string("?");
      if (at != 0) ++at;
      auto start = status->find_first_not_of(" \t", at + key.size() + 1);
      return status->substr(start, status->find('\n', start) - start);
    };
    name = field("Name");
    seccomp = field("Seccomp");
    out[e->d_name] = {name, seccomp};
  }
  ::closedir(d);
  return out;
}

std::string describe(const std::map<std::string, std::pair<std::string, std::string>>& threads) {
  std::string s;
  for (const auto& [tid, t] : threads) s += fmt::format("{} {} Seccomp:{}\n", tid, t.first, t.second);
  return s;
}

json::Json io_guest_config(const TempDir& dir, const std::string& rounds) {
  std::string disk = dir.file("disk.img");
  EXPECT_TRUE(write_file(disk, std::string(1 << 20, '\0')));
  json::Json drives = json::Json::array();
  drives.push_back({{"drive_id", "sbx"}, {"path_on_host", disk}, {"is_root_device", false}, {"is_read_only", false}});
  return {{"boot-source", {{"kernel_image_path", guest("virtio_pause.elf")}, {"boot_args", "rounds=" + rounds}}},
          {"machine-config", {{"vcpu_count", 2}, {"mem_size_mib", 64}}},
          {"drives", drives},
          {"entropy", json::Json::object()}};
}

int64_t blk_requests(const std::string& sock) {
  auto r = http::request({sock, std::chrono::seconds(10)}, "GET", "http://localhost/metrics");
  if (!r || r->status != 200) return -1;
  auto m = json::parse(r->body);
  if (!m || !m->contains("devices")) return -1;
  for (const auto& d : (*m)["devices"])
    if (d.value("device", "") == "virtio-blk") return d["requests"]["read"].get<int64_t>() + d["requests"]["write"].get<int64_t>();
  return -1;
}

TEST(Sandbox, EveryThreadOfARunningVmmHasItsSeccompFilter) {
  TempDir dir;
  json::Json cfg = io_guest_config(dir, "1000000");
  // A vsock device too: its thread has a list of its own.
  cfg["vsock"] = {{"guest_cid", 3}, {"uds_path", dir.file("v.sock")}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  std::string api = dir.file("api.sock"), console = dir.file("console.sock");
  VmmProcess vmm({"--config-file", dir.file("vm.json"), "--api-sock", api, "--console-sock", console,
                  "--shutdown-timeout", "1"});
  int64_t seen = -1;
  for (int i = 0; i < 500 && seen < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    seen = blk_requests(api);
  }
  ASSERT_GE(seen, 200) << "guest I/O did not start: " << vmm.console() << vmm.errors();
  // The console socket answers a client (its thread serves under the console filter).
  auto client = unix_socket::connect(console);
  ASSERT_TRUE(client) << client.error().to_string();

  auto threads = threads_of(vmm.process().pid());
  std::multiset<std::string> names;
  for (const auto& [tid, t] : threads) {
    names.insert(t.first);
    EXPECT_EQ(t.second, "2") << "thread " << tid << " (" << t.first << ") is not filtered:\n" << describe(threads);
  }
  for (const char* expected : {"vessel-vmm", "vcpu0", "vcpu1", "MHD-listen", "console", "signals", "virtio-blk", "virtio-rng",
                              "virtio-vsock"})
    EXPECT_GE(names.count(expected), 1u) << expected << " missing:\n" << describe(threads);
  EXPECT_GE(threads.size(), 9u) << describe(threads);  // and libmicrohttpd's listener, blk I/O workers

  // Pause and resume through the API, then stop it with SIGTERM: all of it under the filters.
  auto paused = http::request({api, std::chrono::seconds(10)}, "PATCH", "http://localhost/vm", R"({"state": "Paused"})");
  ASSERT_TRUE(paused && paused->status / 100 == 2);
  auto resumed = http::request({api, std::chrono::seconds(10)}, "PATCH", "http://localhost/vm", R"({"state": "Resumed"})");
  ASSERT_TRUE(resumed && resumed->status / 100 == 2);
  ASSERT_TRUE(vmm.process().signal(SIGTERM));
  auto r = vmm.finish(std::chrono::seconds(30));
  EXPECT_EQ(r.status.code, 128 + SIGTERM) << r.status.to_string() << "\n" << r.errors;
  EXPECT_EQ(r.metrics["exit"]["kind"], "terminated") << r.errors;
}

TEST(Sandbox, TheGuestRunsToItsEndUnderTheFilters) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("vm.json"), io_guest_config(dir, "2000").dump()));
  auto r = run_vmm({"--config-file", dir.file("vm.json")});
  EXPECT_EQ(r.status.code, 0) << r.status.to_string() << "\n" << r.errors;
  EXPECT_NE(r.console.find("pause-io: rounds=2000 bad=0"), std::string::npos) << r.console;
}

TEST(Sandbox, SeccompLevelZeroLeavesTheThreadsUnfiltered) {
  VmmProcess vmm({"--kernel", guest("counter.elf"), "--cmdline", "count=100000", "--seccomp-level", "0",
                  "--shutdown-timeout", "1"});
  ASSERT_TRUE(vmm.wait_for_console("count 1\r\n", std::chrono::seconds(30))) << vmm.console() << vmm.errors();
  auto threads = threads_of(vmm.process().pid());
  ASSERT_FALSE(threads.empty());
  for (const auto& [tid, t] : threads) EXPECT_EQ(t.second, "0") << describe(threads);
  ASSERT_TRUE(vmm.process().signal(SIGKILL));
  (void)vmm.finish(std::chrono::seconds(10));
}

TEST(Sandbox, GuestProfileNeedsTheFiltersOff) {
  TempDir dir;
  auto r = run_vmm({"--kernel", guest("hello.elf"), "--guest-profile", dir.file("profile.txt")});
  EXPECT_EQ(r.status.code, 1);
  EXPECT_NE(r.errors.find("--seccomp-level 0"), std::string::npos) << r.errors;
}

}  // namespace
}  // namespace vessel::vmm::test
