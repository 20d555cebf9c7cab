// virtio devices under the real vessel-vmm on /dev/kvm, driven by the test kit's own guest
// drivers (tests/guests/programs/virtio_*.c). The host checks what the guest cannot fake: the
// bytes in the disk image after the VM exits, the VMM's exit status, and its device metrics.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "base/fd.h"
#include "http/http.h"
#include "base/json.h"
#include "base/process.h"
#include "test_guests.h"

namespace vessel {
namespace {

namespace fs = std::filesystem;

struct VmRun {
  ExitStatus status;
  std::string console;
  std::string log;  // the VMM's stderr
  json::Json metrics;
};

class VirtioGuestTest : public ::testing::Test {
 protected:
  fs::path dir;

  void SetUp() override {
    ASSERT_EQ(access("/dev/kvm", R_OK | W_OK), 0) << "integration tests need /dev/kvm";
    char tmpl[] = "/tmp/virtio-it-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }

  // A disk whose first 4 KiB hold byte i = (i * 7 + 3) & 0xff and the rest zeros.
  fs::path make_disk(uint64_t size = 1 << 20) {
    fs::path p = dir / "disk.img";
    std::string bytes(size, '\0');
    for (int i = 0; i < 4096; ++i) bytes[i] = static_cast<char>((i * 7 + 3) & 0xff);
    EXPECT_TRUE(write_file(p, bytes));
    return p;
  }

  VmRun boot(const std::string& guest, const json::Json& extra, const std::string& args = "") {
    json::Json cfg = extra;
    cfg["boot-source"] = {{"kernel_image_path", std::string(VESSEL_TEST_GUEST_DIR) + "/" + guest + ".elf"},
                          {"boot_args", args}};
    cfg["machine-config"] = {{"vcpu_count", 1}, {"mem_size_mib", 64}};
    fs::path config = dir / "vm.json", out = dir / "console.txt", metrics = dir / "metrics.json";
    EXPECT_TRUE(write_file(config, cfg.dump()));
    auto out_fd = Fd::open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_TRUE(out_fd);
    auto err_fd = Fd::open(dir / "stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_TRUE(err_fd);
    SpawnOptions opts;
    opts.stdout_fd = out_fd->get();
    opts.stderr_fd = err_fd->get();
    auto p = Process::spawn({VESSEL_VMM_BIN, "--config-file", config, "--metrics-file", metrics}, opts);
    EXPECT_TRUE(p) << p.error().to_string();
    VmRun run;
    if (!p) return run;
    auto st = p->wait_for(std::chrono::seconds(60));
    EXPECT_TRUE(st && *st) << "vessel-vmm did not exit within 60 s (hung)";
    if (st && *st) run.status = **st;
    run.console = read_file(out).value_or("");
    run.log = read_file(dir / "stderr.txt").value_or("");
    auto m = read_file(metrics);
    if (m) run.metrics = json::parse(*m).value_or(json::Json());
    return run;
  }

  static const json::Json* device(const json::Json& metrics, const std::string& name) {
    if (!metrics.contains("devices")) return nullptr;
    for (const auto& d : metrics["devices"])
      if (d.value("device", "") == name) return &d;
    return nullptr;
  }
};

TEST_F(VirtioGuestTest, BlockReadWriteFlushCheckedOnHost) {
  fs::path disk = make_disk();
  json::Json drives = json::Json::array();
  drives.push_back({{"drive_id", "itdisk"}, {"path_on_host", disk}, {"is_root_device", false},
                    {"is_read_only", false}});
  VmRun r = boot("virtio_blk", {{"drives", drives}});
  EXPECT_TRUE(r.status.success()) << r.status.to_string() << "\n" << r.console;
  EXPECT_NE(r.console.find("virtio-blk: write+flush+readback ok"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("virtio-blk: id=itdisk"), std::string::npos) << r.console;
  // The bytes the guest wrote at sector 8 are in the file; the host's pattern is intact.
  std::string bytes = read_file(disk).value_or("");
  ASSERT_EQ(bytes.size(), 1u << 20);
  for (int i = 0; i < 4096; ++i) {
    ASSERT_EQ(static_cast<uint8_t>(bytes[i]), static_cast<uint8_t>(i * 7 + 3)) << i;
    ASSERT_EQ(static_cast<uint8_t>(bytes[4096 + i]), static_cast<uint8_t>(i * 13 + 5)) << i;
  }
  EXPECT_EQ(bytes.substr(8192), std::string((1 << 20) - 8192, '\0'));
  const json::Json* blk = device(r.metrics, "virtio-blk");
  ASSERT_NE(blk, nullptr) << r.metrics.dump();
  EXPECT_EQ((*blk)["requests"]["write"], 1);
  EXPECT_EQ((*blk)["requests"]["flush"], 1);
  EXPECT_EQ((*blk)["bytes"]["written"], 4096);
  EXPECT_GE((*blk)["notifications"].get<uint64_t>(), 1u);
}

TEST_F(VirtioGuestTest, ReadOnlyDriveRefusesWrites) {
  fs::path disk = make_disk();
  std::string before = read_file(disk).value_or("");
  json::Json drives = json::Json::array();
  drives.push_back({{"drive_id", "rodisk"}, {"path_on_host", disk}, {"is_root_device", false},
                    {"is_read_only", true}});
  VmRun r = boot("virtio_blk", {{"drives", drives}}, "ro");
  EXPECT_TRUE(r.status.success()) << r.status.to_string() << "\n" << r.console;
  EXPECT_NE(r.console.find("ro=1"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("read-only write refused"), std::string::npos) << r.console;
  EXPECT_EQ(read_file(disk).value_or(""), before);
  const json::Json* blk = device(r.metrics, "virtio-blk");
  ASSERT_NE(blk, nullptr);
  EXPECT_EQ((*blk)["refused_requests"]["read_only"], 1);
}

TEST_F(VirtioGuestTest, RngReturnsBytes) {
  VmRun r = boot("virtio_rng", {{"entropy", json::Json::object()}});
  EXPECT_TRUE(r.status.success()) << r.status.to_string() << "\n" << r.console;
  EXPECT_NE(r.console.find("virtio-rng: 128 random bytes"), std::string::npos) << r.console;
  const json::Json* rng = device(r.metrics, "virtio-rng");
  ASSERT_NE(rng, nullptr) << r.metrics.dump();
  EXPECT_EQ((*rng)["bytes"], 128);
}

TEST_F(VirtioGuestTest, HostileGuestIsContainedAndReported) {
  fs::path disk = make_disk();
  json::Json drives = json::Json::array();
  drives.push_back({{"drive_id", "victim"}, {"path_on_host", disk}, {"is_root_device", false},
                    {"is_read_only", false}});
  VmRun r = boot("virtio_hostile", {{"drives", drives}, {"entropy", json::Json::object()}});
  // The guest's exit code is its failure count: 0 means every bad request failed alone, every
  // broken ring raised NEEDS_RESET, and the device worked again after each reset.
  EXPECT_TRUE(r.status.success()) << r.status.to_string() << "\n" << r.console;
  EXPECT_NE(r.console.find("hostile: 0 failures"), std::string::npos) << r.console;
  const json::Json* blk = device(r.metrics, "virtio-blk");
  ASSERT_NE(blk, nullptr) << r.metrics.dump();
  const auto& e = (*blk)["guest_errors"];
  EXPECT_GE((*blk)["needs_reset"].get<uint64_t>(), 310u) << blk->dump();
  // ...but the log is rate-limited: the first 16 events, then powers of two.
  size_t warnings = 0;
  for (size_t at = 0; (at = r.log.find("device needs reset", at)) != std::string::npos; ++at) ++warnings;
  EXPECT_GE(warnings, 16u);
  EXPECT_LE(warnings, 16u + 6u) << r.log;
  for (const char* kind : {"descriptor_loop", "next_index", "head_index", "avail_index",
                           "nested_indirect", "indirect_table", "indirect_not_negotiated",
                           "queue_size", "ring_address", "buffer_out_of_ram", "bad_request"})
    EXPECT_GE(e[kind].get<uint64_t>(), 1u) << kind << ": " << blk->dump();
  EXPECT_GE((*blk)["refused_requests"]["sector_range"].get<uint64_t>(), 2u);
  EXPECT_GE((*blk)["feature_negotiation_failures"].get<uint64_t>(), 1u);
  EXPECT_GE((*blk)["bad_register_accesses"].get<uint64_t>(), 1u);
  // Nothing was written by the hostile requests.
  std::string bytes = read_file(disk).value_or("");
  EXPECT_EQ(bytes.substr(8192), std::string((1 << 20) - 8192, '\0'));
}

// Pauses the VM in the middle of a guest's write/read-back loop: while paused the device
// serves nothing (its counters stay still), and after resume the guest finishes with every
// block intact (a notification lost across the pause would hang it; corruption would show).
TEST_F(VirtioGuestTest, PauseResumeDuringIoLosesNothing) {
  fs::path disk = make_disk();
  json::Json drives = json::Json::array();
  drives.push_back({{"drive_id", "pausedisk"}, {"path_on_host", disk}, {"is_root_device", false},
                    {"is_read_only", false}});
  json::Json cfg = {{"drives", drives}};
  cfg["boot-source"] = {{"kernel_image_path", std::string(VESSEL_TEST_GUEST_DIR) + "/virtio_pause.elf"},
                        {"boot_args", "rounds=6000"}};
  cfg["machine-config"] = {{"vcpu_count", 1}, {"mem_size_mib", 64}};
  fs::path config = dir / "vm.json", out = dir / "console.txt", sock = dir / "api.sock";
  ASSERT_TRUE(write_file(config, cfg.dump()));
  auto out_fd = Fd::open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_TRUE(out_fd);
  SpawnOptions opts;
  opts.stdout_fd = out_fd->get();
  auto p = Process::spawn({VESSEL_VMM_BIN, "--config-file", config, "--api-sock", sock}, opts);
  ASSERT_TRUE(p) << p.error().to_string();

  http::ClientOptions api{sock, std::chrono::seconds(10)};
  auto blk_requests = [&]() -> int64_t {
    auto r = http::request(api, "GET", "http://localhost/metrics");
    if (!r || r->status != 200) return -1;
    auto m = json::parse(r->body);
    if (!m) return -1;
    const json::Json* blk = device(*m, "virtio-blk");
    if (!blk) return -1;
    return (*blk)["requests"]["read"].get<int64_t>() + (*blk)["requests"]["write"].get<int64_t>();
  };
  // Wait until the guest is well into its loop.
  int64_t seen = -1;
  for (int i = 0; i < 500 && seen < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    seen = blk_requests();
  }
  ASSERT_GE(seen, 200) << "guest I/O did not start: " << read_file(out).value_or("");
  auto paused = http::request(api, "PATCH", "http://localhost/vm", R"({"state": "Paused"})");
  ASSERT_TRUE(paused && paused->status / 100 == 2) << (paused ? paused->body : paused.error().to_string());
  int64_t at_pause = blk_requests();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int64_t later = blk_requests();
  EXPECT_EQ(at_pause, later) << "the device served requests while the VM was paused";
  EXPECT_LT(at_pause, 2 * 6000) << "the guest finished before the pause: make it run longer";
  auto resumed = http::request(api, "PATCH", "http://localhost/vm", R"({"state": "Resumed"})");
  ASSERT_TRUE(resumed && resumed->status / 100 == 2);
  auto st = p->wait_for(std::chrono::seconds(120));
  ASSERT_TRUE(st && *st) << "guest hung after resume";
  std::string console = read_file(out).value_or("");
  EXPECT_TRUE((*st)->success()) << (*st)->to_string() << "\n" << console;
  EXPECT_NE(console.find("pause-io: rounds=6000 bad=0"), std::string::npos) << console;
}

// The daemon's layout: a per-VM qcow2 overlay over a shared read-only base. The guest reads the
// base's data through the overlay and writes its own; qemu-img is the oracle afterwards (the
// overlay is consistent, it reads as base + the guest's sector, and the base is untouched).
struct OverlayCase {
  const char* name;
  bool qcow2_base;
  bool name_format;  // "format": "qcow2" in the config, or leave it to the probe
};
void PrintTo(const OverlayCase& c, std::ostream* os) { *os << c.name; }

class Qcow2OverlayTest : public VirtioGuestTest, public ::testing::WithParamInterface<OverlayCase> {};

TEST_P(Qcow2OverlayTest, GuestReadsBaseWritesOverlayAndQemuImgAgrees) {
  auto qemu_img = [](std::vector<std::string> args) {
    args.insert(args.begin(), "qemu-img");
    auto r = run_capture(args);
    EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
    return r ? r->status.code : -1;
  };
  fs::path raw_base = make_disk();
  std::string original = read_file(raw_base).value_or("");
  fs::path base = raw_base;
  if (GetParam().qcow2_base) {
    base = dir / "base.qcow2";
    ASSERT_EQ(qemu_img({"convert", "-f", "raw", "-O", "qcow2", raw_base, base}), 0);
  }
  std::string base_before = read_file(base).value_or("");
  fs::path overlay = dir / "overlay.qcow2";
  ASSERT_EQ(qemu_img({"create", "-q", "-f", "qcow2", "-b", base, "-F", GetParam().qcow2_base ? "qcow2" : "raw",
                      overlay}), 0);

  json::Json drive = {{"drive_id", "overlay"}, {"path_on_host", overlay}};
  if (GetParam().name_format) drive["format"] = "qcow2";
  VmRun r = boot("virtio_blk", {{"drives", json::Json::array({drive})}});
  EXPECT_TRUE(r.status.success()) << r.status.to_string() << "\n" << r.console << r.log;
  EXPECT_NE(r.console.find("virtio-blk: read ok"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("virtio-blk: write+flush+readback ok"), std::string::npos) << r.console;

  EXPECT_EQ(qemu_img({"check", "-q", "-f", "qcow2", overlay}), 0);
  std::string expected = original;
  for (int i = 0; i < 4096; ++i) expected[4096 + i] = static_cast<char>((i * 13 + 5) & 0xff);
  fs::path want = dir / "expected.raw";
  ASSERT_TRUE(write_file(want, expected));
  EXPECT_EQ(qemu_img({"compare", "-q", "-f", "qcow2", "-F", "raw", overlay, want}), 0);
  EXPECT_EQ(read_file(base).value_or(""), base_before) << "the backing file was modified";
}

INSTANTIATE_TEST_SUITE_P(
    Bases, Qcow2OverlayTest,
    ::testing::Values(OverlayCase{"RawBaseFormatNamed", false, true}, OverlayCase{"Qcow2BaseFormatProbed", true, false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(VirtioGuestTest, WrongDriveFormatIsAClearStartError) {
  fs::path disk = make_disk();
  json::Json drive = {{"drive_id", "d"}, {"path_on_host", disk}, {"format", "qcow2"}};
  VmRun r = boot("virtio_blk", {{"drives", json::Json::array({drive})}});
  EXPECT_EQ(r.status.code, 1) << r.log;
  EXPECT_NE(r.log.find("drive d"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("qcow2"), std::string::npos) << r.log;
}

// Queue depth 8 on a fresh qcow2 overlay: every 4 KiB block of 8 MiB written once in shuffled
// order (concurrent cluster allocations and copy-on-write from the base), then read back and
// checked by the guest; on the host the overlay must be consistent and hold exactly the blocks.
TEST_F(VirtioGuestTest, Qcow2OverlayUnderConcurrentWritesStaysConsistent) {
  constexpr uint64_t kBs = 4096, kBlocks = 2048, kDisk = 16 << 20;
  fs::path base = dir / "base.raw", overlay = dir / "overlay.qcow2";
  std::string base_bytes(kDisk, '\0');
  for (uint64_t i = 0; i < kDisk; i += 512) base_bytes[i] = 'B';  // visible where not overwritten
  ASSERT_TRUE(write_file(base, base_bytes));
  auto created = run_capture({"qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay});
  ASSERT_TRUE(created && created->status.success());

  json::Json drive = {{"drive_id", "ov"}, {"path_on_host", overlay}, {"format", "qcow2"}};
  VmRun r = boot("virtio_qd", {{"drives", json::Json::array({drive})}}, "qd=8 bs=4096 span_mib=8 mode=verify");
  EXPECT_TRUE(r.status.success()) << r.status.to_string() << "\n" << r.console << r.log;
  EXPECT_NE(r.console.find("qd write-all depth=8 bs=4096 ops=2048"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("qd read-verify depth=8 bs=4096 ops=2048 bytes=8388608"), std::string::npos) << r.console;
  EXPECT_EQ(r.console.find("errors=1"), std::string::npos) << r.console;
  const json::Json* blk = device(r.metrics, "virtio-blk");
  ASSERT_NE(blk, nullptr) << r.metrics.dump();
  EXPECT_GT((*blk)["peak_in_flight"].get<uint64_t>(), 1u) << blk->dump();
  EXPECT_GT((*blk)["concurrent_requests"].get<uint64_t>(), 0u) << blk->dump();
  EXPECT_EQ((*blk)["backend_errors"], 0);

  auto check = run_capture({"qemu-img", "check", "-q", "-f", "qcow2", overlay});
  ASSERT_TRUE(check);
  EXPECT_EQ(check->status.code, 0) << "qemu-img check found problems";
  std::string want = base_bytes;
  for (uint64_t b = 0; b < kBlocks; ++b)
    for (uint64_t i = 0; i < kBs / 8; ++i) {
      uint64_t w = b * 0x9E3779B97F4A7C15ull + i;
      std::memcpy(want.data() + b * kBs + i * 8, &w, 8);
    }
  ASSERT_TRUE(write_file(dir / "expected.raw", want));
  auto cmp = run_capture({"qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", overlay, dir / "expected.raw"});
  ASSERT_TRUE(cmp);
  EXPECT_EQ(cmp->status.code, 0) << "the overlay does not read as base + the guest's blocks";
  EXPECT_EQ(read_file(base).value_or(""), base_bytes) << "the base was modified";
}

// "vessel": {"io_nice": N}: the device thread runs at that nice value (it is what makes a
// notification fast on a busy host, docs/benchmarks/virtio.md).
TEST_F(VirtioGuestTest, IoNiceAppliesToTheDeviceThread) {
  fs::path disk = make_disk();
  json::Json cfg = {{"boot-source", {{"kernel_image_path", std::string(VESSEL_TEST_GUEST_DIR) + "/counter.elf"},
                                     {"boot_args", "count=100000"}}},
                    {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 64}}},
                    {"drives", json::Json::array({{{"drive_id", "d"}, {"path_on_host", disk}}})},
                    {"vessel", {{"io_nice", -7}}}};
  ASSERT_TRUE(write_file(dir / "vm.json", cfg.dump()));
  auto out = Fd::open(dir / "console.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_TRUE(out);
  SpawnOptions opts;
  opts.stdout_fd = out->get();
  auto p = Process::spawn({VESSEL_VMM_BIN, "--config-file", dir / "vm.json"}, opts);
  ASSERT_TRUE(p) << p.error().to_string();
  std::string nice_field;
  for (int i = 0; i < 500 && nice_field.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::error_code ec;
    for (const auto& t : fs::directory_iterator(fs::path("/proc") / std::to_string(p->pid()) / "task", ec)) {
      if (read_file(t.path() / "comm").value_or("") != "virtio-blk\n") continue;
      std::string stat = read_file(t.path() / "stat").value_or("");
      auto close = stat.rfind(')');  // fields after the command name; nice is field 19
      std::istringstream rest(close == std::string::npos ? "" : stat.substr(close + 2));
      std::string field;
      for (int f = 3; f <= 19 && rest >> field; ++f) {
      }
      nice_field = field;
    }
  }
  (void)p->signal(SIGKILL);
  (void)p->wait();
  EXPECT_EQ(nice_field, "-7");
}

}  // namespace
}  // namespace vessel
