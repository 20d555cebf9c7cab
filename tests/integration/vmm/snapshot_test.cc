// Snapshots (docs/vmm/snapshot.md): a paused VM saved with PUT /snapshot/create, killed, and loaded
// in a new vessel-vmm (PUT /snapshot/load or --restore-snapshot) goes on from the exact count;
// truncated, corrupt, foreign and wrong-machine snapshots are refused and leave the new process
// as fresh as it was.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>
#include <functional>
#include <memory>
#include <regex>

#include "base/unix_socket.h"
#include "http/http.h"
#include "vmm/snapshot/crc64.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

class Api {
 public:
  explicit Api(std::string sock) : sock_(std::move(sock)) {}
  http::ClientResponse call(const std::string& method, const std::string& path, const std::string& body = {}) const {
    http::ClientOptions o;
    o.unix_socket = sock_;
    o.timeout = std::chrono::seconds(60);
    auto r = http::request(o, method, "http://localhost" + path, body);
    EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
    return r.value_or(http::ClientResponse{});
  }

 private:
  std::string sock_;
};

// The ticks of a console, in order: complete "tick N" lines only (not "counting to tick N").
std::vector<long> ticks(const std::string& console) {
  static const std::regex re("tick (\\d+)\r\n");
  std::vector<long> out;
  for (auto it = std::sregex_iterator(console.begin(), console.end(), re); it != std::sregex_iterator(); ++it) {
    auto at = it->position(0);
    if (at == 0 || console[at - 1] == '\n') out.push_back(std::stol((*it)[1]));
  }
  return out;
}

// The last complete "tick N" line on a console, -1 when none.
long last_tick(const std::string& console) {
  auto all = ticks(console);
  return all.empty() ? -1 : all.back();
}

// The original VM's console up to the pause followed by the restored VM's must count 1, 2, ...,
// `last` without a gap or a repeat: the pause may have stopped the guest in the middle of a line,
// which the restored VM then finishes.
::testing::AssertionResult counts_on(const std::string& before, const std::string& after, long last) {
  auto all = ticks(before + after);
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i] != static_cast<long>(i) + 1)
      return ::testing::AssertionFailure() << "tick " << all[i] << " where " << i + 1 << " belongs; before:\n"
                                           << before << "\nafter:\n" << after;
  if (all.empty() || all.back() != last)
    return ::testing::AssertionFailure() << "the count did not reach " << last << "; after:\n" << after;
  if (ticks(after).empty()) return ::testing::AssertionFailure() << "the restored VM did not count";
  return ::testing::AssertionSuccess();
}

std::string load_body(const std::string& state, const std::string& mem, bool resume) {
  return json::Json{{"snapshot_path", state},
                    {"mem_backend", {{"backend_type", "File"}, {"backend_path", mem}}},
                    {"resume_vm", resume}}
      .dump();
}

// A snapshot of snapshot_counter.elf (2 vCPUs, 128 MiB, "ticks=20 fill") taken after tick 3,
// and the last tick the original VM printed before it was paused. Made once for all tests.
struct Saved {
  TempDir dir;
  std::string state, mem;
  std::string console;  // the original VM's, at the pause
  long tick = -1;
  std::string error;
};

const Saved& saved() {
  // Destroyed at exit, its directory with it: each test runs in a process of its own, and each
  // such process made (and, as a leaked pointer, left behind) 100 MiB in /tmp.
  static const std::unique_ptr<Saved> s = [] {
    auto out = std::make_unique<Saved>();
    out->state = out->dir.file("vm.state");
    out->mem = out->dir.file("vm.mem");
    std::string sock = out->dir.file("a.sock");
    VmmProcess vmm({"--api-sock", sock, "--kernel", guest("snapshot_counter.elf"), "--cmdline", "ticks=20 fill",
                    "--vcpus", "2", "--mem-mib", "128"});
    if (!vmm.wait_for_file(sock) || !vmm.wait_for_console("tick 3\r\n", std::chrono::seconds(60))) {
      out->error = "the original VM did not reach tick 3: " + vmm.console() + vmm.errors();
      return out;
    }
    Api api(sock);
    auto paused = api.call("PATCH", "/vm", R"({"state": "Paused"})");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the console's last bytes
    out->console = vmm.console();
    out->tick = last_tick(out->console);
    auto created = api.call("PUT", "/snapshot/create",
                            json::Json{{"snapshot_type", "Full"}, {"snapshot_path", out->state}, {"mem_file_path", out->mem}}.dump());
    if (paused.status != 204 || created.status != 204) out->error = "pause/create: " + paused.body + created.body + vmm.errors();
    (void)vmm.process().signal(SIGKILL);
    (void)vmm.finish(std::chrono::seconds(10));
    return out;
  }();
  return *s;
}

TEST(Snapshot, ARestoredVmGoesOnFromTheExactCount) {
  const Saved& s = saved();
  ASSERT_TRUE(s.error.empty()) << s.error;
  ASSERT_GE(s.tick, 3);
  TempDir dir;
  std::string sock = dir.file("b.sock");
  VmmProcess vmm({"--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  Api api(sock);
  auto loaded = api.call("PUT", "/snapshot/load", load_body(s.state, s.mem, true));
  ASSERT_EQ(loaded.status, 204) << loaded.body;
  auto r = vmm.finish(std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, 20));
  EXPECT_EQ(r.console.find("bad"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("memory ok"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("done 20"), std::string::npos) << r.console;
}

TEST(Snapshot, LoadsFromTheCommandLineAndStaysPausedUntilResumed) {
  const Saved& s = saved();
  ASSERT_TRUE(s.error.empty()) << s.error;
  TempDir dir;
  std::string sock = dir.file("c.sock");
  VmmProcess vmm({"--api-sock", sock, "--restore-snapshot", s.state, "--restore-mem", s.mem, "--restore-paused"});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  Api api(sock);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(last_tick(vmm.console()), -1) << "a paused VM ran: " << vmm.console();
  auto info = json::parse(api.call("GET", "/").body);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["state"], "Paused");
  EXPECT_EQ(api.call("PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
  auto r = vmm.finish(std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, 20));
  EXPECT_NE(r.console.find("done 20"), std::string::npos) << r.console;
}

TEST(Snapshot, CreateNeedsAPausedVm) {
  TempDir dir;
  std::string sock = dir.file("d.sock");
  VmmProcess vmm({"--api-sock", sock, "--kernel", guest("snapshot_counter.elf"), "--cmdline", "ticks=100000"});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  auto r = Api(sock).call("PUT", "/snapshot/create",
                          json::Json{{"snapshot_path", dir.file("s")}, {"mem_file_path", dir.file("m")}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("pause it first"), std::string::npos) << r.body;
  (void)vmm.process().signal(SIGKILL);
}

// A VM with a vsock device snapshots and loads (docs/vmm/vsock.md, "Snapshots"): the new process
// listens on the snapshot's uds_path again, over the stale socket file the killed process left,
// and the guest goes on counting. (This guest has no vsock driver: the transport reset it would
// get is tested in unit/virtio/vsock_device_test.cc and in the Linux guest, linux_snapshot_test.)
TEST(Snapshot, AVmWithAVsockDeviceLoadsAndListensOnItsSocketPathAgain) {
  TempDir dir;
  std::string sock = dir.file("e.sock"), uds = dir.file("v.sock");
  json::Json cfg = {{"boot-source", {{"kernel_image_path", guest("snapshot_counter.elf")}, {"boot_args", "ticks=8"}}},
                    {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 64}}},
                    {"vsock", {{"guest_cid", 3}, {"uds_path", uds}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  std::string before;
  {
    VmmProcess vmm({"--api-sock", sock, "--config-file", dir.file("vm.json")});
    ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
    ASSERT_TRUE(vmm.wait_for_console("tick 2\r\n", std::chrono::seconds(60))) << vmm.console();
    Api api(sock);
    ASSERT_EQ(api.call("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    before = vmm.console();
    auto r = api.call("PUT", "/snapshot/create",
                      json::Json{{"snapshot_path", dir.file("s")}, {"mem_file_path", dir.file("m")}}.dump());
    ASSERT_EQ(r.status, 204) << r.body;
    (void)vmm.process().signal(SIGKILL);
    (void)vmm.finish(std::chrono::seconds(10));
  }
  struct stat st {};
  ASSERT_EQ(::lstat(uds.c_str(), &st), 0) << "the killed process leaves its socket file";
  ::unlink(sock.c_str());
  VmmProcess vmm({"--api-sock", sock, "--restore-snapshot", dir.file("s"), "--restore-mem", dir.file("m")});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  bool listening = false;
  for (int i = 0; i < 100 && !listening; ++i) {
    listening = static_cast<bool>(unix_socket::connect(uds));
    if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(listening) << "nobody listens on " << uds << ": " << vmm.errors();
  auto r = vmm.finish(std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(before, r.console, 8));
}

// Diff snapshots: with track_dirty_pages a Full snapshot, then a Diff one a few ticks later that
// holds only the pages written in between (KVM's dirty log plus vessel-vmm's own writes);
// merged onto the Full one's memory (--apply-diff) it loads and goes on from the Diff's count.
TEST(Snapshot, ADiffSnapshotHoldsOnlyTheWrittenPagesAndMergesOntoItsBase) {
  TempDir dir;
  json::Json cfg = {{"boot-source", {{"kernel_image_path", guest("snapshot_counter.elf")}, {"boot_args", "ticks=30 fill"}}},
                    {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 128}, {"track_dirty_pages", true}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  std::string sock = dir.file("a.sock");
  auto create = [&](const Api& api, const char* type, const std::string& name) {
    return api.call("PUT", "/snapshot/create",
                    json::Json{{"snapshot_type", type}, {"snapshot_path", dir.file(name + ".state")},
                               {"mem_file_path", dir.file(name + ".mem")}}.dump());
  };
  long at = -1;
  std::string before;
  {
    VmmProcess a({"--api-sock", sock, "--config-file", dir.file("vm.json")});
    ASSERT_TRUE(a.wait_for_file(sock)) << a.errors();
    ASSERT_TRUE(a.wait_for_console("tick 2\r\n", std::chrono::seconds(60))) << a.console();
    Api api(sock);
    ASSERT_EQ(api.call("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    auto full = create(api, "Full", "base");
    ASSERT_EQ(full.status, 204) << full.body;
    long base_tick = last_tick(a.console());
    ASSERT_EQ(api.call("PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
    ASSERT_TRUE(a.wait_for_console("tick " + std::to_string(base_tick + 2) + "\r\n", std::chrono::seconds(60)));
    ASSERT_EQ(api.call("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    before = a.console();
    at = last_tick(before);
    auto diff = create(api, "Diff", "diff");
    ASSERT_EQ(diff.status, 204) << diff.body;
    (void)a.process().signal(SIGKILL);
    (void)a.finish(std::chrono::seconds(10));
  }
  ASSERT_LT(at, 30);
  struct stat base {}, diff {};
  ASSERT_EQ(::stat(dir.file("base.mem").c_str(), &base), 0);
  ASSERT_EQ(::stat(dir.file("diff.mem").c_str(), &diff), 0);
  EXPECT_EQ(diff.st_size, base.st_size);
  EXPECT_GT(base.st_blocks, 80 * 2048) << "the Full snapshot holds the filled RAM";  // 512-byte blocks
  EXPECT_LT(diff.st_blocks, 2 * 2048) << "the Diff snapshot holds more than the pages written";
  ASSERT_EQ(std::system(("cp --sparse=always '" + dir.file("base.mem") + "' '" + dir.file("merged.mem") + "'").c_str()), 0);
  auto merged = run_vmm({"--apply-diff", dir.file("diff.mem"), "--to", dir.file("merged.mem")});
  ASSERT_EQ(merged.status.code, 0) << merged.errors;
  auto r = run_vmm({"--restore-snapshot", dir.file("diff.state"), "--restore-mem", dir.file("merged.mem")},
                   std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(before, r.console, 30));
  EXPECT_NE(r.console.find("memory ok"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("done 30"), std::string::npos) << r.console;
}

TEST(Snapshot, ADiffSnapshotNeedsDirtyPageTracking) {
  TempDir dir;
  std::string sock = dir.file("a.sock");
  VmmProcess vmm({"--api-sock", sock, "--kernel", guest("snapshot_counter.elf"), "--cmdline", "ticks=100000"});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  Api api(sock);
  ASSERT_EQ(api.call("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
  auto r = api.call("PUT", "/snapshot/create",
                    json::Json{{"snapshot_type", "Diff"}, {"snapshot_path", dir.file("s")}, {"mem_file_path", dir.file("m")}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("needs dirty page tracking"), std::string::npos) << r.body;
  (void)vmm.process().signal(SIGKILL);
}

// virtio-blk in the middle of a stream of writes and read-backs: the pause finishes what is in
// flight, the snapshot keeps the queue's position, and the restored device serves the rest with
// the same disk file: not one request lost or corrupted.
TEST(Snapshot, VirtioBlkIoGoesOnAcrossASnapshot) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("disk.raw"), std::string(1 << 20, '\0')));
  json::Json cfg = {{"boot-source", {{"kernel_image_path", guest("virtio_pause.elf")}, {"boot_args", "rounds=6000"}}},
                    {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 64}}},
                    {"drives", {{{"drive_id", "d"}, {"path_on_host", dir.file("disk.raw")}, {"is_root_device", false},
                                 {"is_read_only", false}}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  std::string sock = dir.file("a.sock"), state = dir.file("vm.state"), mem = dir.file("vm.mem");
  {
    VmmProcess a({"--api-sock", sock, "--config-file", dir.file("vm.json")});
    ASSERT_TRUE(a.wait_for_file(sock)) << a.errors();
    Api api(sock);
    int64_t requests = 0;
    for (int i = 0; i < 1000 && requests < 300; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      auto m = json::parse(api.call("GET", "/metrics").body);
      if (!m || !m->contains("devices") || (*m)["devices"].empty()) continue;
      const auto& blk = (*m)["devices"][0];
      requests = blk["requests"]["read"].get<int64_t>() + blk["requests"]["write"].get<int64_t>();
    }
    ASSERT_GE(requests, 300) << "the guest's I/O did not start: " << a.console();
    ASSERT_EQ(api.call("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    ASSERT_EQ(a.console().find("pause-io"), std::string::npos) << "the guest finished before the snapshot";
    auto created = api.call("PUT", "/snapshot/create", json::Json{{"snapshot_path", state}, {"mem_file_path", mem}}.dump());
    ASSERT_EQ(created.status, 204) << created.body;
    (void)a.process().signal(SIGKILL);
    (void)a.finish(std::chrono::seconds(10));
  }
  VmmProcess b({"--restore-snapshot", state, "--restore-mem", mem});
  auto r = b.finish(std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_NE(r.console.find("pause-io: rounds=6000 bad=0"), std::string::npos) << r.console << r.errors;
}

// A restored VM's RAM maps its memory file: a snapshot over that file would truncate it under the
// VM (SIGBUS). It is refused, and the VM can be snapshotted elsewhere and goes on.
TEST(Snapshot, ARestoredVmIsNotSnapshottedOverItsOwnMemoryFile) {
  const Saved& s = saved();
  ASSERT_TRUE(s.error.empty()) << s.error;
  TempDir dir;
  ASSERT_EQ(std::system(("cp --sparse=always '" + s.mem + "' '" + dir.file("vm.mem") + "'").c_str()), 0);
  std::string sock = dir.file("b.sock");
  VmmProcess vmm({"--api-sock", sock, "--restore-snapshot", s.state, "--restore-mem", dir.file("vm.mem"), "--restore-paused"});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  Api api(sock);
  auto over = api.call("PUT", "/snapshot/create",
                       json::Json{{"snapshot_path", dir.file("again.state")}, {"mem_file_path", dir.file("vm.mem")}}.dump());
  EXPECT_EQ(over.status, 400);
  EXPECT_NE(over.body.find("is the memory file this VM was loaded from"), std::string::npos) << over.body;
  auto elsewhere = api.call("PUT", "/snapshot/create",
                            json::Json{{"snapshot_path", dir.file("again.state")}, {"mem_file_path", dir.file("again.mem")}}.dump());
  EXPECT_EQ(elsewhere.status, 204) << elsewhere.body;
  EXPECT_EQ(api.call("PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
  auto r = vmm.finish(std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, 20));
}

// The API's shapes: each bad body or wrong moment is a 400 naming the problem.
TEST(Snapshot, BadRequestsAreRefusedWithTheirReason) {
  TempDir dir;
  std::string sock = dir.file("a.sock");
  VmmProcess vmm({"--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  Api api(sock);
  struct Case {
    const char* method;
    const char* path;
    std::string body;
    const char* message;
  };
  std::string s = dir.file("s"), m = dir.file("m");
  const Case cases[] = {
      {"PUT", "/snapshot/create", json::Json{{"snapshot_path", s}, {"mem_file_path", m}}.dump(), "not started"},
      {"PUT", "/snapshot/create", json::Json{{"snapshot_type", "Half"}, {"snapshot_path", s}, {"mem_file_path", m}}.dump(),
       "'Half' is not Full or Diff"},
      {"PUT", "/snapshot/create", json::Json{{"snapshot_path", s}}.dump(), "mem_file_path"},
      {"PUT", "/snapshot/create", json::Json{{"snapshot_path", s}, {"mem_file_path", s}}.dump(), "the same file"},
      {"PUT", "/snapshot/create", json::Json{{"snapshot_path", s}, {"mem_file_path", m}, {"version", "1.0"}}.dump(), "version"},
      {"PUT", "/snapshot/load", json::Json{{"snapshot_path", s}}.dump(), "exactly one of mem_backend and mem_file_path"},
      {"PUT", "/snapshot/load",
       json::Json{{"snapshot_path", s}, {"mem_file_path", m}, {"mem_backend", {{"backend_type", "File"}, {"backend_path", m}}}}.dump(),
       "exactly one of"},
      {"PUT", "/snapshot/load", json::Json{{"snapshot_path", s}, {"mem_backend", {{"backend_type", "Mmap"}, {"backend_path", m}}}}.dump(),
       "'Mmap' is not File or Uffd"},
      {"PUT", "/snapshot/load", json::Json{{"snapshot_path", s}, {"mem_file_path", m}, {"resume_vm", "yes"}}.dump(),
       "resume_vm: expected a boolean"},
      {"PUT", "/snapshot/load", json::Json{{"snapshot_path", s}, {"mem_file_path", m}}.dump(), "No such file"},
      {"GET", "/snapshot/create", "", "use PUT"},
  };
  for (const auto& c : cases) {
    auto r = api.call(c.method, c.path, c.body);
    EXPECT_GE(r.status, 400) << c.path << " " << c.body;
    EXPECT_NE(r.body.find(c.message), std::string::npos) << c.path << " " << c.body << " -> " << r.body;
  }
  // A process with a boot source is not fresh: load refuses it.
  ASSERT_EQ(api.call("PUT", "/boot-source", json::Json{{"kernel_image_path", guest("hello.elf")}}.dump()).status, 204);
  auto r = api.call("PUT", "/snapshot/load", json::Json{{"snapshot_path", s}, {"mem_file_path", m}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("has a boot source already"), std::string::npos) << r.body;
  (void)vmm.process().signal(SIGKILL);
}

// ------------------------------------------------------------------ bad snapshots

std::vector<uint8_t> bytes_of(const std::string& path) {
  auto text = read_file(path);
  EXPECT_TRUE(text);
  return std::vector<uint8_t>(text->begin(), text->end());
}

void put_crc(std::vector<uint8_t>& f) {
  uint64_t crc = snapshot::crc64(std::span<const uint8_t>(f.data(), f.size() - 8));
  std::memcpy(f.data() + f.size() - 8, &crc, 8);
}

// Offset of the n-th section's header (id, version, length) in a state file.
size_t section_at(const std::vector<uint8_t>& f, uint32_t id) {
  size_t at = 24;
  while (at + 16 <= f.size() - 8) {
    uint32_t sid;
    uint64_t len;
    std::memcpy(&sid, f.data() + at, 4);
    std::memcpy(&len, f.data() + at + 8, 8);
    if (sid == id) return at;
    at += 16 + len;
  }
  ADD_FAILURE() << "no section " << id;
  return 24;
}

struct BadSnapshot {
  const char* name;
  const char* message;
  // Changes the state file's bytes; may also shorten the memory file.
  void (*spoil)(std::vector<uint8_t>& state, bool& halve_memory);
};
void PrintTo(const BadSnapshot& b, std::ostream* os) { *os << b.name; }

const BadSnapshot kBad[] = {
    {"truncated", "truncated", [](std::vector<uint8_t>& f, bool&) { f.resize(f.size() - 100); }},
    {"empty", "bad magic", [](std::vector<uint8_t>& f, bool&) { f.clear(); }},
    {"corrupt", "CRC64", [](std::vector<uint8_t>& f, bool&) { f[f.size() / 2] ^= 0x40; }},
    {"wrong_magic", "bad magic", [](std::vector<uint8_t>& f, bool&) { f[0] = 'X'; }},
    {"future_format", "format version 99 is not supported", [](std::vector<uint8_t>& f, bool&) {
       f[8] = 99;
       put_crc(f);
     }},
    {"future_section", "vm section version 7 is not supported", [](std::vector<uint8_t>& f, bool&) {
       f[section_at(f, 3) + 4] = 7;
       put_crc(f);
     }},
    {"vcpu_count", "vcpu", [](std::vector<uint8_t>& f, bool&) {
       f[section_at(f, 1) + 16] = 3;  // the machine section's vcpu_count: 3 for 2 saved vCPUs
       put_crc(f);
     }},
    {"cpuid", "CPUID mismatch", [](std::vector<uint8_t>& f, bool&) {
       // The machine section: vcpu_count u32, mem_size u64, count u32, then kvm_cpuid_entry2s
       // (function, index, flags, eax, ebx, ...): flip a bit of the first entry's ebx.
       f[section_at(f, 1) + 16 + 16 + 16] ^= 0x01;
       put_crc(f);
     }},
    {"memory_size", "the memory file has", [](std::vector<uint8_t>&, bool& halve) { halve = true; }},
};

class BadSnapshotTest : public ::testing::TestWithParam<BadSnapshot> {};

TEST_P(BadSnapshotTest, IsRefusedAndTheProcessStaysFresh) {
  const Saved& s = saved();
  ASSERT_TRUE(s.error.empty()) << s.error;
  TempDir dir;
  auto state = bytes_of(s.state);
  bool halve = false;
  GetParam().spoil(state, halve);
  std::string bad_state = dir.file("bad.state"), mem = s.mem;
  ASSERT_TRUE(write_file(bad_state, std::string(state.begin(), state.end())));
  if (halve) {
    mem = dir.file("half.mem");
    ASSERT_EQ(std::system(("cp --sparse=always '" + s.mem + "' '" + mem + "' && truncate -s 64M '" + mem + "'").c_str()), 0);
  }
  std::string sock = dir.file("f.sock");
  VmmProcess vmm({"--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  Api api(sock);
  auto r = api.call("PUT", "/snapshot/load", load_body(bad_state, mem, true));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find(GetParam().message), std::string::npos) << r.body;
  auto info = json::parse(api.call("GET", "/").body);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["state"], "Not started");
  // Nothing was left half-built: the good snapshot still loads in the same process.
  auto good = api.call("PUT", "/snapshot/load", load_body(s.state, s.mem, true));
  EXPECT_EQ(good.status, 204) << good.body;
  auto end = vmm.finish(std::chrono::seconds(120));
  EXPECT_EQ(end.status.code, 0) << end.console << end.errors;
  EXPECT_NE(end.console.find("done 20"), std::string::npos) << end.console;
  EXPECT_EQ(end.errors.find("terminate called"), std::string::npos) << end.errors;
}

INSTANTIATE_TEST_SUITE_P(States, BadSnapshotTest, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

// ------------------------------------------------------------------ the Uffd memory backend

std::string uffd_load_body(const std::string& state, const std::string& handler_sock, bool resume) {
  return json::Json{{"snapshot_path", state},
                    {"mem_backend", {{"backend_type", "Uffd"}, {"backend_path", handler_sock}}},
                    {"resume_vm", resume}}
      .dump();
}

// vessel-uffd-handler serving `mem` on `sock`, its stderr kept.
class Handler {
 public:
  Handler(const std::string& mem, std::string sock) : sock_(std::move(sock)) {
    err_ = dir_.file("handler.txt");
    auto err = Fd::open(err_, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    SpawnOptions o;
    o.stderr_fd = err->get();
    auto p = Process::spawn({VESSEL_UFFD_HANDLER_PATH, "--mem-file", mem, "--socket", sock_}, o);
    if (!p) ADD_FAILURE() << p.error().to_string();
    else process_ = std::move(*p);
  }
  bool ready() const {
    for (int i = 0; i < 1000 && access(sock_.c_str(), F_OK) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return access(sock_.c_str(), F_OK) == 0;
  }
  std::string errors() const { return read_file(err_).value_or(""); }
  Process& process() { return process_; }

 private:
  TempDir dir_;
  std::string sock_, err_;
  Process process_;
};

// The counting guest loaded through the Uffd backend and the shipped handler goes on from the
// exact count with every page right; the handler serves every page it touches and ends with it.
TEST(SnapshotUffd, ARestoredVmGoesOnFromTheExactCountThroughTheShippedHandler) {
  const Saved& s = saved();
  ASSERT_TRUE(s.error.empty()) << s.error;
  TempDir dir;
  Handler handler(s.mem, dir.file("h.sock"));
  ASSERT_TRUE(handler.ready()) << handler.errors();
  std::string sock = dir.file("b.sock");
  VmmProcess vmm({"--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  Api api(sock);
  auto loaded = api.call("PUT", "/snapshot/load", uffd_load_body(s.state, dir.file("h.sock"), true));
  ASSERT_EQ(loaded.status, 204) << loaded.body << handler.errors();
  auto r = vmm.finish(std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, 20));
  EXPECT_EQ(r.console.find("bad"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("memory ok"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("done 20"), std::string::npos) << r.console;
  // The handler saw the VMM go and exited on its own.
  auto ended = handler.process().wait_for(std::chrono::seconds(10));
  ASSERT_TRUE(ended && *ended) << handler.errors();
  EXPECT_TRUE((*ended)->success()) << (*ended)->to_string() << handler.errors();
  // "fill" wrote a word into every page from 32 MiB on ("filled N MiB"), and the guest checked
  // each after the restore: every one of them was served from the file.
  std::smatch filled, copied;
  std::string text = handler.errors();
  ASSERT_TRUE(std::regex_search(s.console, filled, std::regex("filled (\\d+) MiB"))) << s.console;
  ASSERT_TRUE(std::regex_search(text, copied, std::regex("(\\d+) pages copied"))) << text;
  EXPECT_GE(std::stoul(copied[1]), (std::stoul(filled[1]) << 20) / 4096) << text;
}

// A VM loaded through Uffd and snapshotted again before it ran: the new snapshot reads every page
// (the handler serves the ones never touched) and loads with the File backend, going on from the
// same count.
TEST(SnapshotUffd, AVmLoadedThroughUffdCanBeSnapshottedAgain) {
  const Saved& s = saved();
  ASSERT_TRUE(s.error.empty()) << s.error;
  TempDir dir;
  Handler handler(s.mem, dir.file("h.sock"));
  ASSERT_TRUE(handler.ready()) << handler.errors();
  std::string state = dir.file("again.state"), mem = dir.file("again.mem");
  {
    std::string sock = dir.file("b.sock");
    VmmProcess vmm({"--api-sock", sock});
    ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
    Api api(sock);
    ASSERT_EQ(api.call("PUT", "/snapshot/load", uffd_load_body(s.state, dir.file("h.sock"), false)).status, 204);
    auto created = api.call("PUT", "/snapshot/create",
                            json::Json{{"snapshot_path", state}, {"mem_file_path", mem}}.dump());
    ASSERT_EQ(created.status, 204) << created.body << vmm.errors();
    (void)vmm.process().signal(SIGKILL);
  }
  std::string sock = dir.file("c.sock");
  VmmProcess vmm({"--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  auto loaded = Api(sock).call("PUT", "/snapshot/load", load_body(state, mem, true));
  ASSERT_EQ(loaded.status, 204) << loaded.body;
  auto r = vmm.finish(std::chrono::seconds(120));
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, 20));
  EXPECT_NE(r.console.find("memory ok"), std::string::npos) << r.console;
}

// A handler that accepts, reads the message and then misbehaves; the load must fail with what
// it did, and the process stays fresh: the good snapshot still loads with the File backend.
void expect_handler_refused(const std::function<void(int)>& misbehave, const std::string& message) {
  const Saved& s = saved();
  ASSERT_TRUE(s.error.empty()) << s.error;
  TempDir dir;
  std::string hsock = dir.file("h.sock");
  auto listener = unix_socket::listen(hsock);
  ASSERT_TRUE(listener) << listener.error().to_string();
  std::thread fake([&] {
    Fd conn(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    auto uffd = unix_socket::recv_fd(conn.get());  // the mappings and the uffd, as a handler would
    misbehave(conn.get());
  });
  std::string sock = dir.file("b.sock");
  VmmProcess vmm({"--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  Api api(sock);
  auto t0 = std::chrono::steady_clock::now();
  auto r = api.call("PUT", "/snapshot/load", uffd_load_body(s.state, hsock, true));
  fake.join();
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find(message), std::string::npos) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "the load waited for the timeout";
  auto info = json::parse(api.call("GET", "/").body);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["state"], "Not started");
  auto good = api.call("PUT", "/snapshot/load", load_body(s.state, s.mem, true));
  EXPECT_EQ(good.status, 204) << good.body;
  auto end = vmm.finish(std::chrono::seconds(120));
  EXPECT_EQ(end.status.code, 0) << end.console << end.errors;
  EXPECT_NE(end.console.find("done 20"), std::string::npos) << end.console;
}

TEST(SnapshotUffd, AHandlerThatClosesTheSocketIsALoadError) {
  expect_handler_refused([](int conn) { ::shutdown(conn, SHUT_RDWR); },
                         "the page-fault handler closed its socket before serving the first page of guest memory");
}

TEST(SnapshotUffd, AHandlerThatSendsGarbageIsALoadError) {
  expect_handler_refused(
      [](int conn) {
        (void)unix_socket::send_all(conn, "garbage");
        std::this_thread::sleep_for(std::chrono::seconds(1));  // keeps the socket open meanwhile
      },
      "the page-fault handler sent 7 bytes on its socket (it must send nothing) before serving the first page");
}

TEST(SnapshotUffd, NoHandlerListeningIsALoadError) {
  const Saved& s = saved();
  ASSERT_TRUE(s.error.empty()) << s.error;
  TempDir dir;
  std::string sock = dir.file("b.sock");
  VmmProcess vmm({"--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  auto r = Api(sock).call("PUT", "/snapshot/load", uffd_load_body(s.state, dir.file("nobody.sock"), true));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("connect to the page-fault handler at " + dir.file("nobody.sock")), std::string::npos) << r.body;
  (void)vmm.process().signal(SIGKILL);
}

// The handler killed while the VM runs: the VMM cannot fill the pages not served yet and ends
// with exit status 2 and the reason, instead of hanging on the next such page.
TEST(SnapshotUffd, TheVmEndsWhenItsHandlerDies) {
  const Saved& s = saved();
  ASSERT_TRUE(s.error.empty()) << s.error;
  TempDir dir;
  Handler handler(s.mem, dir.file("h.sock"));
  ASSERT_TRUE(handler.ready()) << handler.errors();
  std::string sock = dir.file("b.sock");
  VmmProcess vmm({"--api-sock", sock});
  ASSERT_TRUE(vmm.wait_for_file(sock)) << vmm.errors();
  auto loaded = Api(sock).call("PUT", "/snapshot/load", uffd_load_body(s.state, dir.file("h.sock"), false));
  ASSERT_EQ(loaded.status, 204) << loaded.body;
  ASSERT_TRUE(handler.process().signal(SIGKILL));
  auto r = vmm.finish(std::chrono::seconds(30));
  EXPECT_EQ(r.status.code, 2) << r.status.to_string() << r.errors;
  EXPECT_NE(r.errors.find("the page-fault handler closed its socket: guest pages not served yet can never be filled"),
            std::string::npos) << r.errors;
}

}  // namespace
}  // namespace vessel::vmm::test
