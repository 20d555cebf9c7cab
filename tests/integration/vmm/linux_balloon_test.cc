// virtio-balloon with a stock Linux guest (docs/vmm/balloon.md; label linux-boot: runs in the
// nested KVM host on PVM machines). Debian's kernel with the default initramfs (whose /init loads
// virtio_balloon when the device is there) first touches most of its 256 MiB (a tmpfs file,
// written and removed), then prints /proc/meminfo every second. The host inflates the balloon to
// 128 MiB and checks that the guest's MemTotal drops, that vessel-vmm's resident memory drops by
// about as much, and that GET /balloon/statistics shows the guest's figures; then it deflates.
// A second test takes an inflated balloon through a snapshot and a load in a new process.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <regex>

#include "http/http.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

using namespace std::chrono_literals;

http::ClientResponse call(const std::string& sock, const std::string& method, const std::string& path,
                          const std::string& body = {}) {
  http::ClientOptions o;
  o.unix_socket = sock;
  o.timeout = std::chrono::seconds(60);
  auto r = http::request(o, method, "http://localhost" + path, body);
  EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
  return r.value_or(http::ClientResponse{});
}

json::Json get_json(const std::string& sock, const std::string& path) {
  auto r = call(sock, "GET", path);
  EXPECT_EQ(r.status, 200) << path << ": " << r.body;
  return json::parse(r.body).value_or(json::Json{});
}

// kB of a /proc/PID/status field (VmRSS, RssAnon); -1 when absent.
long status_kb(pid_t pid, const std::string& field) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/status").value_or("");
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(field + ":\\s+(\\d+) kB"))) return -1;
  return std::stol(m[1]);
}

// The guest's last complete "bal-mem ... MemTotal: N kB ... MemAvailable: M kB" line.
struct GuestMem {
  long total_kb = -1, available_kb = -1;
};
GuestMem last_meminfo(const std::string& console) {
  static const std::regex re("bal-mem MemTotal: (\\d+) kB MemFree: \\d+ kB MemAvailable: (\\d+) kB\r\n");
  GuestMem g;
  for (auto it = std::sregex_iterator(console.begin(), console.end(), re); it != std::sregex_iterator(); ++it)
    g = {std::stol((*it)[1]), std::stol((*it)[2])};
  return g;
}

// Polls GET /balloon until actual_mib reaches `mib` (the driver moves 1 MiB per request).
bool wait_actual(const std::string& sock, uint64_t mib, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    json::Json b = get_json(sock, "/balloon");
    if (b.contains("actual_mib") && b["actual_mib"].get<uint64_t>() == mib) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

TEST(LinuxBalloon, InflatingGivesGuestMemoryBackToTheHostAndDeflatingReturnsIt) {
  std::string guest_dir = VESSEL_DEFAULT_GUEST_DIR;
  ASSERT_EQ(access((guest_dir + "/vmlinux").c_str(), R_OK), 0) << "build the default_guest target first";
  auto boot_args = read_file(guest_dir + "/cmdline");
  ASSERT_TRUE(boot_args) << "the default guest has no cmdline file: rebuild it";
  while (!boot_args->empty() && boot_args->back() == '\n') boot_args->pop_back();
  TempDir dir;
  // At most 32 words: the kernel's limit for init's arguments. `$(grep Mem ...)` unquoted puts
  // MemTotal, MemFree and MemAvailable on one line.
  std::string cmd =
      "mount -o remount,size=200m /tmp; dd if=/dev/zero of=/tmp/f bs=1M count=150 2>/dev/null; rm /tmp/f; "
      "while :; do echo bal-mem $(grep Mem /proc/meminfo); sleep 1; done";
  json::Json cfg = {{"boot-source",
                     {{"kernel_image_path", guest_dir + "/vmlinux"},
                      {"initrd_path", guest_dir + "/initramfs.cpio"},
                      {"boot_args", *boot_args + " -- " + cmd}}},
                    {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 256}}},
                    // Without deflate_on_oom Linux takes the balloon's pages out of MemTotal.
                    {"balloon", {{"amount_mib", 0}, {"deflate_on_oom", false}, {"stats_polling_interval_s", 1}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  std::string sock = dir.file("api.sock");
  VmmProcess vm({"--api-sock", sock, "--config-file", dir.file("vm.json")});
  ASSERT_TRUE(vm.wait_for_file(sock)) << vm.errors();
  ASSERT_TRUE(vm.wait_for_console("bal-mem MemTotal", 4min)) << vm.console() << vm.errors();
  std::this_thread::sleep_for(2s);
  pid_t pid = vm.process().pid();
  GuestMem before = last_meminfo(vm.console());
  long rss_before = status_kb(pid, "VmRSS");
  ASSERT_GT(before.total_kb, 0) << vm.console();
  ASSERT_GT(rss_before, 0);
  json::Json b0 = get_json(sock, "/balloon");
  EXPECT_EQ(b0["amount_mib"], 0);
  EXPECT_EQ(b0["actual_pages"], 0);

  // Inflate to 128 MiB.
  auto patched = call(sock, "PATCH", "/balloon", R"({"amount_mib": 128})");
  ASSERT_EQ(patched.status, 204) << patched.body;
  ASSERT_TRUE(wait_actual(sock, 128, 3min)) << get_json(sock, "/balloon").dump() << vm.errors();
  std::this_thread::sleep_for(3s);  // a few meminfo lines and a statistics round
  long rss_inflated = status_kb(pid, "VmRSS");
  GuestMem inflated = last_meminfo(vm.console());
  json::Json stats = get_json(sock, "/balloon/statistics");
  json::Json metrics = get_json(sock, "/metrics");
  std::cout << "balloon: guest MemTotal " << before.total_kb << " -> " << inflated.total_kb << " kB, MemAvailable "
            << before.available_kb << " -> " << inflated.available_kb << " kB; vessel-vmm VmRSS " << rss_before
            << " -> " << rss_inflated << " kB (dropped " << (rss_before - rss_inflated) / 1024 << " MiB)\n"
            << "statistics: " << stats.dump() << "\n";
  // (a) the guest lost 128 MiB of RAM (131072 kB; a little slack for the line in flight)
  EXPECT_LE(inflated.total_kb, before.total_kb - 120 * 1024) << vm.console();
  EXPECT_LT(inflated.available_kb, before.available_kb - 64 * 1024);
  // (b) the host got most of it back: the guest had touched those pages before
  EXPECT_GE(rss_before - rss_inflated, 64 * 1024) << "VmRSS " << rss_before << " -> " << rss_inflated;
  // (c) the guest's own figures, in bytes
  EXPECT_EQ(stats["target_mib"], 128);
  EXPECT_EQ(stats["actual_mib"], 128);
  EXPECT_EQ(stats["actual_pages"], 128 * 256);
  ASSERT_TRUE(stats.contains("total_memory")) << stats.dump();
  ASSERT_TRUE(stats.contains("free_memory")) << stats.dump();
  ASSERT_TRUE(stats.contains("available_memory")) << stats.dump();
  for (const char* k : {"swap_in", "swap_out", "major_faults", "minor_faults", "disk_caches"})
    EXPECT_TRUE(stats.contains(k)) << k << " missing: " << stats.dump();
  long stat_total_kb = static_cast<long>(stats["total_memory"].get<uint64_t>() / 1024);
  EXPECT_NEAR(stat_total_kb, inflated.total_kb, 4 * 1024) << stats.dump();
  EXPECT_GT(stats["minor_faults"].get<uint64_t>(), 0u);
  json::Json balloon_metrics;
  for (const auto& d : metrics["devices"])
    if (d.value("device", "") == "virtio-balloon") balloon_metrics = d;
  EXPECT_GE(balloon_metrics.value("inflated_pages", 0u), 128u * 256) << metrics.dump();

  // Deflate: the guest gets its memory back.
  patched = call(sock, "PATCH", "/balloon", R"({"amount_mib": 0})");
  ASSERT_EQ(patched.status, 204) << patched.body;
  ASSERT_TRUE(wait_actual(sock, 0, 3min)) << get_json(sock, "/balloon").dump();
  std::this_thread::sleep_for(2s);
  GuestMem deflated = last_meminfo(vm.console());
  std::cout << "balloon: deflated, guest MemTotal " << deflated.total_kb << " kB, VmRSS " << status_kb(pid, "VmRSS")
            << " kB\n";
  EXPECT_NEAR(deflated.total_kb, before.total_kb, 1024);
  EXPECT_EQ(vm.console().find("Out of puff"), std::string::npos);
  ASSERT_TRUE(vm.process().signal(SIGKILL));
  (void)vm.finish(20s);
}

// The balloon through a snapshot: inflated to 64 MiB, paused, snapshotted, killed; a new process
// loads it with the balloon's target and actual, the statistics buffer the device held goes back
// to the driver (so figures come again), and a deflate works.
TEST(LinuxBalloon, AnInflatedBalloonSurvivesASnapshotLoadInANewProcess) {
  std::string guest_dir = VESSEL_DEFAULT_GUEST_DIR;
  ASSERT_EQ(access((guest_dir + "/vmlinux").c_str(), R_OK), 0) << "build the default_guest target first";
  auto boot_args = read_file(guest_dir + "/cmdline");
  ASSERT_TRUE(boot_args);
  while (!boot_args->empty() && boot_args->back() == '\n') boot_args->pop_back();
  TempDir dir;
  std::string cmd = "while :; do echo bal-mem $(grep Mem /proc/meminfo); sleep 1; done";
  json::Json cfg = {{"boot-source",
                     {{"kernel_image_path", guest_dir + "/vmlinux"},
                      {"initrd_path", guest_dir + "/initramfs.cpio"},
                      {"boot_args", *boot_args + " -- " + cmd}}},
                    {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 256}}},
                    {"balloon", {{"amount_mib", 64}, {"deflate_on_oom", false}, {"stats_polling_interval_s", 1}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  std::string sock_a = dir.file("a.sock"), state = dir.file("vm.state"), mem = dir.file("vm.mem");
  GuestMem before;
  {
    VmmProcess a({"--api-sock", sock_a, "--config-file", dir.file("vm.json")});
    ASSERT_TRUE(a.wait_for_file(sock_a)) << a.errors();
    ASSERT_TRUE(a.wait_for_console("bal-mem MemTotal", 4min)) << a.console() << a.errors();
    ASSERT_TRUE(wait_actual(sock_a, 64, 3min)) << get_json(sock_a, "/balloon").dump();
    std::this_thread::sleep_for(2s);
    before = last_meminfo(a.console());
    ASSERT_EQ(call(sock_a, "PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    auto created = call(sock_a, "PUT", "/snapshot/create", json::Json{{"snapshot_path", state}, {"mem_file_path", mem}}.dump());
    ASSERT_EQ(created.status, 204) << created.body;
    ASSERT_TRUE(a.process().signal(SIGKILL));
    (void)a.finish(20s);
  }
  std::string sock_b = dir.file("b.sock");
  VmmProcess b({"--api-sock", sock_b});
  ASSERT_TRUE(b.wait_for_file(sock_b)) << b.errors();
  auto loaded = call(sock_b, "PUT", "/snapshot/load",
                     json::Json{{"snapshot_path", state},
                                {"mem_backend", {{"backend_type", "File"}, {"backend_path", mem}}},
                                {"resume_vm", true}}
                         .dump());
  ASSERT_EQ(loaded.status, 204) << loaded.body;
  json::Json bal = get_json(sock_b, "/balloon");
  EXPECT_EQ(bal["amount_mib"], 64);
  EXPECT_EQ(bal["target_mib"], 64);
  EXPECT_EQ(bal["actual_mib"], 64) << bal.dump();
  EXPECT_EQ(bal["stats_polling_interval_s"], 1);
  // Statistics are not in the snapshot: they come again once the held buffer went back.
  json::Json stats;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    stats = get_json(sock_b, "/balloon/statistics");
    if (stats.contains("total_memory")) break;
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(stats.contains("total_memory")) << stats.dump();
  EXPECT_NEAR(static_cast<long>(stats["total_memory"].get<uint64_t>() / 1024), before.total_kb, 4 * 1024);
  auto patched = call(sock_b, "PATCH", "/balloon", R"({"amount_mib": 0})");
  ASSERT_EQ(patched.status, 204) << patched.body;
  ASSERT_TRUE(wait_actual(sock_b, 0, 3min)) << get_json(sock_b, "/balloon").dump();
  ASSERT_TRUE(b.wait_for_console("bal-mem MemTotal", 30s));
  std::this_thread::sleep_for(2s);
  GuestMem after = last_meminfo(b.console());
  std::cout << "balloon snapshot: MemTotal at the snapshot " << before.total_kb << " kB, after the load and a deflate "
            << after.total_kb << " kB\n";
  EXPECT_GE(after.total_kb, before.total_kb + 60 * 1024) << b.console();
  ASSERT_TRUE(b.process().signal(SIGKILL));
  (void)b.finish(20s);
}

}  // namespace
}  // namespace vessel::vmm::test
