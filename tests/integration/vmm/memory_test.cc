// Guest memory options (docs/vmm/memory.md): huge_pages 2M backs guest RAM with hugetlbfs pages
// (and a short pool refuses the start with what to set), such a VM's snapshot loads through the
// Uffd backend only; ksm lets KSM merge the identical pages of two VMs, which their metrics show.
// The tests change vm.nr_hugepages and KSM's knobs as root and put the old values back.
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>

#include <regex>

#include "base/unix_socket.h"
#include "host_knob.h"
#include "http/http.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

using vessel::test::Knob;
using vessel::test::KnobLock;

constexpr const char* kNrHugepages = "/proc/sys/vm/nr_hugepages";

json::Json get_json(const std::string& sock, const std::string& path) {
  http::ClientOptions o;
  o.unix_socket = sock;
  o.timeout = std::chrono::seconds(30);
  auto r = http::request(o, "GET", "http://localhost" + path, "");
  if (!r) return {};
  return json::parse(r->body).value_or(json::Json{});
}

int call(const std::string& sock, const std::string& method, const std::string& path, const std::string& body,
         std::string* answer = nullptr) {
  http::ClientOptions o;
  o.unix_socket = sock;
  o.timeout = std::chrono::seconds(60);
  auto r = http::request(o, method, "http://localhost" + path, body);
  if (answer && r) *answer = r->body;
  return r ? r->status : -1;
}

std::string config(const std::string& boot_args, uint64_t mib, const json::Json& extra) {
  json::Json machine = {{"vcpu_count", 1}, {"mem_size_mib", mib}};
  machine.update(extra);
  return json::Json{{"boot-source", {{"kernel_image_path", guest("snapshot_counter.elf")}, {"boot_args", boot_args}}},
                    {"machine-config", machine}}
      .dump();
}

// The guest mapping of `mib` MiB in /proc/PID/smaps: its KernelPageSize line ("" when none).
std::string guest_page_size(pid_t pid, uint64_t mib) {
  auto smaps = read_file(fmt::format("/proc/{}/smaps", pid)).value_or("");
  std::smatch m;
  std::regex size("\nSize: +" + std::to_string(mib << 10) + " kB\n");
  if (!std::regex_search(smaps, m, size)) return "";
  size_t k = smaps.find("KernelPageSize:", static_cast<size_t>(m.position(0)));
  return k == std::string::npos ? "" : smaps.substr(k, smaps.find('\n', k) - k);
}

TEST(HugePages, GuestRamIsOnTwoMebibytePagesAndTheGuestRuns) {
  KnobLock lock;
  uint64_t old = std::stoull(read_file(kNrHugepages).value_or("0"));
  Knob pool(kNrHugepages, std::to_string(old + 64));
  ASSERT_TRUE(pool.ok());
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("ticks=3 fill", 128, {{"huge_pages", "2M"}})));
  std::string sock = dir.file("a.sock");
  VmmProcess vmm({"--config-file", dir.file("vm.json"), "--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  ASSERT_TRUE(vmm.wait_for_console("filled", std::chrono::seconds(60))) << vmm.console() << vmm.errors();
  EXPECT_EQ(guest_page_size(vmm.process().pid(), 128), "KernelPageSize:     2048 kB");
  auto m = get_json(sock, "/metrics");
  EXPECT_EQ(m["memory"]["huge_pages"], "2M") << m.dump();
  EXPECT_EQ(m["memory"]["page_size"], 2u << 20) << m.dump();
  EXPECT_EQ(get_json(sock, "/machine-config")["huge_pages"], "2M");
  auto r = vmm.finish(std::chrono::seconds(60));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_NE(r.console.find("memory ok"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("done 3"), std::string::npos) << r.console;
}

TEST(HugePages, AShortPoolRefusesTheStartWithWhatToSet) {
  KnobLock lock;
  auto free_text = read_file("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
  ASSERT_TRUE(free_text);
  uint64_t total = std::stoull(read_file(kNrHugepages).value_or("0"));
  uint64_t in_use = total - std::stoull(*free_text);
  Knob pool(kNrHugepages, std::to_string(in_use + 8));  // 16 MiB free, the guest wants 64
  ASSERT_TRUE(pool.ok());
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("ticks=1", 64, {{"huge_pages", "2M"}})));
  auto r = run_vmm({"--config-file", dir.file("vm.json")}, std::chrono::seconds(30));
  EXPECT_EQ(r.status.code, 1) << r.errors;
  EXPECT_NE(r.errors.find("guest memory of 64 MiB needs 32 huge pages of 2 MiB"), std::string::npos) << r.errors;
  EXPECT_NE(r.errors.find("add at least 24 to the pool: sysctl vm.nr_hugepages="), std::string::npos) << r.errors;
}

// huge_pages 2M and snapshots: the File backend is refused; through the Uffd backend and
// vessel-uffd-handler (2 MiB copies) the counting guest goes on from the exact count.
TEST(HugePages, ASnapshotLoadsThroughUffdWithTwoMebibytePages) {
  KnobLock lock;
  uint64_t old = std::stoull(read_file(kNrHugepages).value_or("0"));
  Knob pool(kNrHugepages, std::to_string(old + 2 * 64));
  ASSERT_TRUE(pool.ok());
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("ticks=12 fill", 128, {{"huge_pages", "2M"}})));
  std::string state = dir.file("vm.state"), mem = dir.file("vm.mem");
  {
    std::string sock = dir.file("a.sock");
    VmmProcess a({"--config-file", dir.file("vm.json"), "--api-sock", sock});
    ASSERT_TRUE(a.wait_for_file(sock)) << a.errors();
    ASSERT_TRUE(a.wait_for_console("tick 2\r\n", std::chrono::seconds(60))) << a.console() << a.errors();
    ASSERT_EQ(call(sock, "PATCH", "/vm", R"({"state": "Paused"})"), 204);
    std::string body;
    ASSERT_EQ(call(sock, "PUT", "/snapshot/create",
                   json::Json{{"snapshot_path", state}, {"mem_file_path", mem}}.dump(), &body), 204) << body;
    (void)a.process().signal(SIGKILL);
  }
  std::string sock = dir.file("b.sock");
  VmmProcess b({"--api-sock", sock});
  ASSERT_TRUE(b.wait_for_file(sock)) << b.errors();
  std::string refused;
  EXPECT_EQ(call(sock, "PUT", "/snapshot/load",
                 json::Json{{"snapshot_path", state}, {"mem_backend", {{"backend_type", "File"}, {"backend_path", mem}}}}.dump(),
                 &refused), 400);
  EXPECT_NE(refused.find("has huge_pages 2M: load it with mem_backend Uffd"), std::string::npos) << refused;

  std::string hsock = dir.file("h.sock");
  auto herr = Fd::open(dir.file("handler.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  SpawnOptions ho;
  ho.stderr_fd = herr->get();
  auto handler = Process::spawn({VESSEL_UFFD_HANDLER_PATH, "--mem-file", mem, "--socket", hsock}, ho);
  ASSERT_TRUE(handler) << handler.error().to_string();
  for (int i = 0; i < 500 && access(hsock.c_str(), F_OK) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string body;
  ASSERT_EQ(call(sock, "PUT", "/snapshot/load",
                 json::Json{{"snapshot_path", state}, {"mem_backend", {{"backend_type", "Uffd"}, {"backend_path", hsock}}},
                            {"resume_vm", true}}.dump(), &body), 204)
      << body << read_file(dir.file("handler.txt")).value_or("");
  EXPECT_EQ(guest_page_size(b.process().pid(), 128), "KernelPageSize:     2048 kB");
  auto r = b.finish(std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_NE(r.console.find("memory ok"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("done 12"), std::string::npos) << r.console;
  auto ended = handler->wait_for(std::chrono::seconds(10));
  ASSERT_TRUE(ended && *ended);
  std::string text = read_file(dir.file("handler.txt")).value_or("");
  EXPECT_TRUE((*ended)->success()) << text;
  // Every fault was served with a whole 2 MiB page: 512 small pages per fault.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("(\\d+) faults, (\\d+) pages copied"))) << text;
  EXPECT_EQ(std::stoull(m[2]), 512 * std::stoull(m[1])) << text;
}

// Two VMs whose RAM holds the same bytes (the counting guest fills every page with a word that
// depends on its address only) with ksm on: once ksmd runs, each VM's metrics show thousands of
// its pages merged. The VMs are paused meanwhile: ksmd then has the CPU (in a one-CPU nested
// host two counting guests starve it), and merging does not depend on a VM running. Resumed,
// both count on over their merged memory (copy on write).
TEST(Ksm, TwoVmsWithTheSameMemoryShareMergedPages) {
  KnobLock lock;
  const std::string k = "/sys/kernel/mm/ksm/";
  ASSERT_EQ(access((k + "run").c_str(), W_OK), 0) << "needs KSM (CONFIG_KSM) and root";
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("ticks=100000000 fill", 64, {{"ksm", true}})));
  std::string s1 = dir.file("a.sock"), s2 = dir.file("b.sock");
  VmmProcess a({"--config-file", dir.file("vm.json"), "--api-sock", s1});
  VmmProcess b({"--config-file", dir.file("vm.json"), "--api-sock", s2});
  ASSERT_TRUE(a.wait_for_console("tick 1\r\n", std::chrono::seconds(120))) << a.console() << a.errors();
  ASSERT_TRUE(b.wait_for_console("tick 1\r\n", std::chrono::seconds(120))) << b.console() << b.errors();
  EXPECT_EQ(get_json(s1, "/machine-config")["ksm"], true);
  ASSERT_EQ(call(s1, "PATCH", "/vm", R"({"state": "Paused"})"), 204);
  ASSERT_EQ(call(s2, "PATCH", "/vm", R"({"state": "Paused"})"), 204);
  Knob scan(k + "pages_to_scan", "5000"), sleep(k + "sleep_millisecs", "10"), run(k + "run", "1");
  ASSERT_TRUE(scan.ok() && sleep.ok() && run.ok());
  // "fill" wrote 32 MiB (8192 pages) in each VM.
  uint64_t merged_a = 0, merged_b = 0;
  json::Json m;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while ((merged_a < 6000 || merged_b < 6000) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    m = get_json(s1, "/metrics");
    merged_a = m["memory"]["ksm"].value("merging_pages", 0ull);
    merged_b = get_json(s2, "/metrics")["memory"]["ksm"].value("merging_pages", 0ull);
  }
  EXPECT_GE(merged_a, 6000u) << m.dump();
  EXPECT_GE(merged_b, 6000u);
  EXPECT_EQ(m["memory"]["ksm"]["enabled"], true) << m.dump();
  if (m["memory"]["ksm"].contains("process_profit_bytes")) {  // Linux 6.4+
    EXPECT_GT(m["memory"]["ksm"]["process_profit_bytes"].get<int64_t>(), 0) << m.dump();
  }
  // Both go on counting on merged memory, register and memory agreeing ("bad" otherwise).
  for (auto* vm : {&a, &b}) {
    static const std::regex tick("tick (\\d+)\r\n");
    std::string text = vm->console();
    long last = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), tick); it != std::sregex_iterator(); ++it)
      last = std::stol((*it)[1]);
    ASSERT_EQ(call(vm == &a ? s1 : s2, "PATCH", "/vm", R"({"state": "Resumed"})"), 204);
    EXPECT_TRUE(vm->wait_for_console(fmt::format("tick {}\r\n", last + 1), std::chrono::seconds(120))) << vm->console();
    EXPECT_EQ(vm->console().find("bad"), std::string::npos) << vm->console();
  }
  (void)a.process().signal(SIGKILL);
  (void)b.process().signal(SIGKILL);
}

TEST(Ksm, AVmWithoutKsmHasNoMergeablePages) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("vm.json"), config("ticks=100000000", 32, json::Json::object())));
  std::string sock = dir.file("a.sock");
  VmmProcess a({"--config-file", dir.file("vm.json"), "--api-sock", sock});
  ASSERT_TRUE(a.wait_for_console("tick 1\r\n", std::chrono::seconds(60))) << a.console() << a.errors();
  auto m = get_json(sock, "/metrics");
  EXPECT_EQ(m["memory"]["ksm"]["enabled"], false) << m.dump();
  EXPECT_FALSE(m["memory"]["ksm"].contains("merging_pages")) << m.dump();
  EXPECT_EQ(m["memory"]["backend"], "Anonymous") << m.dump();
  (void)a.process().signal(SIGKILL);
}

}  // namespace
}  // namespace vessel::vmm::test
