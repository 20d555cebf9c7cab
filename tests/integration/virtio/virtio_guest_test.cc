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

// Firecracker's cache_type: Writeback (vessel-vmm's default) offers VIRTIO_BLK_F_FLUSH and the
// guest's flush reaches the backend; Unsafe offers none. partuuid of the root device becomes
// root=PARTUUID=... on the kernel's command line.
TEST_F(VirtioGuestTest, CacheTypeDecidesTheFlushFeatureAndPartuuidTheRoot) {
  fs::path disk = make_disk();
  for (const char* cache : {"Writeback", "Unsafe"}) {
    SCOPED_TRACE(cache);
    json::Json drive = {{"drive_id", "root"}, {"path_on_host", disk}, {"cache_type", cache},
                        {"io_engine", "Sync"}, {"is_root_device", true}, {"partuuid", "0eaa91a0-01"}};
    VmRun r = boot("virtio_blk", {{"drives", json::Json::array({drive})}});
    EXPECT_TRUE(r.status.success()) << r.status.to_string() << "\n" << r.console << r.log;
    bool unsafe = std::string(cache) == "Unsafe";
    EXPECT_NE(r.console.find(unsafe ? "flush=0" : "flush=1"), std::string::npos) << r.console;
    EXPECT_NE(r.console.find("write+flush+readback ok"), std::string::npos) << r.console;
    EXPECT_NE(r.console.find("root=PARTUUID=0eaa91a0-01 rw"), std::string::npos) << r.console;
    const json::Json* blk = device(r.metrics, "virtio-blk");
    ASSERT_NE(blk, nullptr) << r.metrics.dump();
    EXPECT_EQ((*blk)["requests"]["flush"], unsafe ? 0 : 1);
  }
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

  json::Json drive = {{"drive_id", "overlay"}, {"path_on_host", overlay}, {"format", "qcow2"},
                      {"backing_files", json::Json::array({base.string()})}};
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
    ::testing::Values(OverlayCase{"RawBase", false}, OverlayCase{"Qcow2Base", true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(VirtioGuestTest, WrongDriveFormatIsAClearStartError) {
  fs::path disk = make_disk();
  json::Json drive = {{"drive_id", "d"}, {"path_on_host", disk}, {"format", "qcow2"}};
  VmRun r = boot("virtio_blk", {{"drives", json::Json::array({drive})}});
  EXPECT_EQ(r.status.code, 1) << r.log;
  EXPECT_NE(r.log.find("drive d"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("qcow2"), std::string::npos) << r.log;
}

// Gap 5 of docs/threat-model.md. The guest writes, with its own requests, a qcow2 header that
// names a host file (a secret) as its backing file onto its raw writable disk; the VM is started
// again on that disk without "format". A VMM that probes would open the disk as qcow2 and hand
// the guest the secret; vessel-vmm opens it raw (writable or read-only), and the guest reads the
// header it wrote.
TEST_F(VirtioGuestTest, GuestPlantedQcow2HeaderNeverExposesAHostFile) {
  const std::string secret_text = "HOST-SECRET-6f1c2a9e-never-for-guests";
  fs::path secret = dir / "secret.raw";
  ASSERT_TRUE(write_file(secret, secret_text + std::string((1 << 20) - secret_text.size(), '\0')));
  fs::path made = dir / "made.qcow2";
  auto created = run_capture({"qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "-b", secret,
                              "-F", "raw", made, "1M"});
  ASSERT_TRUE(created && created->status.success());
  std::string header = read_file(made).value_or("");
  ASSERT_GT(header.size(), 0u);
  ASSERT_LT(header.size(), 64u << 10);
  header.resize((header.size() + 511) & ~size_t{511}, '\0');
  // The host only leaves the bytes at 1 MiB of a zeroed disk: moving them to sector 0 is the guest's.
  fs::path disk = dir / "disk.raw";
  std::string bytes(2 << 20, '\0');
  bytes.replace(1 << 20, header.size(), header);
  ASSERT_TRUE(write_file(disk, bytes));

  json::Json drive = {{"drive_id", "victim"}, {"path_on_host", disk}};
  VmRun plant = boot("virtio_plant", {{"drives", json::Json::array({drive})}},
                     fmt::format("plant from=2048 count={}", header.size() / 512));
  ASSERT_TRUE(plant.status.success()) << plant.status.to_string() << "\n" << plant.console << plant.log;
  ASSERT_NE(plant.console.find("plant: wrote"), std::string::npos) << plant.console;
  ASSERT_EQ(read_file(disk).value_or("").substr(0, 4), "QFI\xfb") << "the guest did not plant the header";

  for (bool read_only : {false, true}) {
    SCOPED_TRACE(read_only ? "read-only drive" : "writable drive");
    drive["is_read_only"] = read_only;
    VmRun dump = boot("virtio_plant", {{"drives", json::Json::array({drive})}}, "dump");
    EXPECT_TRUE(dump.status.success()) << dump.status.to_string() << "\n" << dump.console << dump.log;
    EXPECT_EQ(dump.console.find("HOST-SECRET"), std::string::npos) << "the guest read the host's file:\n" << dump.console;
    EXPECT_NE(dump.console.find("dump: [QFI."), std::string::npos) << "the guest should read back its own header:\n"
                                                                   << dump.console << dump.log;
  }
  // Named as qcow2, the image opens, but its backing file is followed only when the drive lists it.
  drive["is_read_only"] = false;
  drive["format"] = "qcow2";
  VmRun named = boot("virtio_plant", {{"drives", json::Json::array({drive})}}, "dump");
  EXPECT_EQ(named.status.code, 1) << named.console << named.log;
  EXPECT_EQ(named.console.find("HOST-SECRET"), std::string::npos) << named.console;
  EXPECT_NE(named.log.find("backing_files"), std::string::npos) << named.log;
  EXPECT_NE(named.log.find(secret.string()), std::string::npos) << named.log;
}

// vessel-vmm follows a backing file only when the drive lists it (backing_files): an overlay
// over a base it does not list does not start, with an error that names the file and the field.
TEST_F(VirtioGuestTest, BackingFileNotListedIsAClearStartError) {
  fs::path base = make_disk(), overlay = dir / "overlay.qcow2", other = dir / "other.raw";
  ASSERT_TRUE(write_file(other, std::string(4096, 'o')));
  auto created = run_capture({"qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay});
  ASSERT_TRUE(created && created->status.success());
  for (const json::Json& listed : {json::Json::array(), json::Json::array({other.string()})}) {
    json::Json drive = {{"drive_id", "ov"}, {"path_on_host", overlay}, {"format", "qcow2"}, {"backing_files", listed}};
    VmRun r = boot("virtio_blk", {{"drives", json::Json::array({drive})}});
    EXPECT_EQ(r.status.code, 1) << r.log;
    EXPECT_NE(r.log.find("drive ov"), std::string::npos) << r.log;
    EXPECT_NE(r.log.find("backing_files"), std::string::npos) << r.log;
    EXPECT_NE(r.log.find(base.string()), std::string::npos) << r.log;
  }
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

  json::Json drive = {{"drive_id", "ov"}, {"path_on_host", overlay}, {"format", "qcow2"},
                      {"backing_files", json::Json::array({base.string()})}};
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

// Gap 11 of docs/threat-model.md: vessel-vmm locks its images as QEMU does. While a VM writes its
// overlay, vessel-img, qemu-img and a second vessel-vmm cannot open it ('Failed to get shared
// "write" lock', naming vessel-vmm), -U reads it, and the base may be read but not written.
TEST_F(VirtioGuestTest, ImagesOfARunningVmAreLockedLikeQemuLocksThem) {
  fs::path base = make_disk(), overlay = dir / "overlay.qcow2";
  auto created = run_capture({"qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay});
  ASSERT_TRUE(created && created->status.success());
  json::Json drive = {{"drive_id", "d"}, {"path_on_host", overlay}, {"format", "qcow2"},
                      {"backing_files", json::Json::array({base.string()})}};
  json::Json cfg = {{"boot-source", {{"kernel_image_path", std::string(VESSEL_TEST_GUEST_DIR) + "/counter.elf"},
                                     {"boot_args", "count=1000000"}}},
                    {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 64}}},
                    {"drives", json::Json::array({drive})}};
  ASSERT_TRUE(write_file(dir / "vm.json", cfg.dump()));
  auto out = Fd::open(dir / "console.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_TRUE(out);
  SpawnOptions opts;
  opts.stdout_fd = out->get();
  auto p = Process::spawn({VESSEL_VMM_BIN, "--config-file", dir / "vm.json"}, opts);
  ASSERT_TRUE(p) << p.error().to_string();
  bool running = false;
  for (int i = 0; i < 1000 && !running; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    running = read_file(dir / "console.txt").value_or("").find("counting to") != std::string::npos;
  }
  auto run = [](std::vector<std::string> args) {  // stdout and stderr
    std::string cmd;
    for (const auto& a : args) cmd += "'" + a + "' ";
    auto r = run_capture({"sh", "-c", cmd + "2>&1"});
    return r ? std::make_pair(r->status.code, r->out) : std::make_pair(-1, r.error().to_string());
  };
  if (running) {
    auto info = run({VESSEL_IMG_BIN, "info", overlay});
    EXPECT_EQ(info.first, 1) << info.second;
    EXPECT_NE(info.second.find("Failed to get shared \"write\" lock"), std::string::npos) << info.second;
    EXPECT_NE(info.second.find("vessel-vmm"), std::string::npos) << "the holder should be named: " << info.second;
    auto qinfo = run({"qemu-img", "info", overlay});
    EXPECT_NE(qinfo.first, 0) << qinfo.second;
    EXPECT_NE(qinfo.second.find("Failed to get shared \"write\" lock"), std::string::npos) << qinfo.second;
    EXPECT_EQ(run({"qemu-img", "info", "-U", overlay}).first, 0);
    EXPECT_EQ(run({VESSEL_IMG_BIN, "info", "-U", overlay}).first, 0);
    auto commit = run({VESSEL_IMG_BIN, "commit", overlay});
    EXPECT_EQ(commit.first, 1) << commit.second;
    // The base: readers share it, writers are kept out.
    EXPECT_EQ(run({VESSEL_IMG_BIN, "info", base}).first, 0);
    auto write_base = run({"qemu-io", "-f", "raw", "-c", "write 0 512", base});
    EXPECT_NE(write_base.second.find("Failed to get \"write\" lock"), std::string::npos) << write_base.second;
    // A second VM on the same overlay does not start.
    VmRun second = boot("virtio_blk", {{"drives", json::Json::array({drive})}});
    EXPECT_EQ(second.status.code, 1) << second.log;
    EXPECT_NE(second.log.find("Failed to get \"write\" lock"), std::string::npos) << second.log;
  }
  (void)p->signal(SIGKILL);
  (void)p->wait();
  ASSERT_TRUE(running) << "the VM did not start:\n" << read_file(dir / "console.txt").value_or("");
  EXPECT_EQ(run({VESSEL_IMG_BIN, "info", overlay}).first, 0) << "the locks go with the VMM";
}

}  // namespace
}  // namespace vessel
