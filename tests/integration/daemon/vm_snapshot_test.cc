// vessel snapshot create|ls|restore|rm (docs/daemon/snapshots.md) with the test-kit guest
// snapshot_disk, which counts in memory and keeps its count on its disk, checking at every tick
// that the disk holds what memory says it wrote: a VM put back to a snapshot whose disk is not of
// the memory's instant says "bad". qemu-img is the oracle for every file left.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <regex>
#include <thread>

#include "daemon_fixture.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

namespace fs = std::filesystem;

std::vector<long> ticks(const Daemon& d, const std::string& name) {
  std::vector<long> out;
  std::string text = d.vessel({"logs", name}).out;
  std::regex line("tick ([0-9]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it)
    out.push_back(std::stol((*it)[1]));
  return out;
}

long last_tick(const Daemon& d, const std::string& name) {
  auto t = ticks(d, name);
  return t.empty() ? -1 : t.back();
}

// The count the guest's disk holds in `image` (its chain flattened by qemu-img), -1 for none.
long disk_count(const std::string& image, const std::string& scratch) {
  auto r = run({"qemu-img", "convert", "-U", "-O", "raw", image, scratch});
  EXPECT_EQ(r.status, 0) << r.err;
  auto data = read_file(scratch);
  if (!data || data->size() < 16) return -1;
  uint64_t magic = 0, count = 0;
  std::memcpy(&magic, data->data(), 8);
  std::memcpy(&count, data->data() + 8, 8);
  return magic == 0x4b534944504e5356ull ? static_cast<long>(count) : -1;
}

// Every qcow2 file of the instance passes `qemu-img check` (-U: the VM may run).
void check_all(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/disks")) {
    if (!e.is_regular_file()) continue;
    auto r = run({"qemu-img", "check", "-U", e.path().string()});
    EXPECT_EQ(r.status, 0) << e.path() << ": " << r.out << r.err;
    ++n;
  }
  EXPECT_GT(n, 0);
}

std::string qemu_img_info_backing(const std::string& image) {
  auto r = run({"qemu-img", "info", "--output=json", "-U", image});
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(r.out).value_or(json::Json::object()).value("backing-filename", "");
}

json::Json snapshot_list(const Daemon& d, const std::string& name) { return d.vessel_json({"snapshot", "ls", name, "--json"}); }

size_t occurrences(const std::vector<long>& v, long x) { return static_cast<size_t>(std::count(v.begin(), v.end(), x)); }

TEST(VmSnapshot, MemoryAndDiskGoBackTogetherTwiceThenRm) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  TempDir tmp;
  Daemon d(tmp.path, {"--vmm", vmm()});
  ASSERT_TRUE(d.start()) << d.log();
  auto r = d.vessel({"run", "--vm", "--name", "vm1", "--kernel", guest("snapshot_disk"), "--memory", "64M", "--disk",
                     "size=16M", "--stop-timeout", "0"});
  ASSERT_EQ(r.status, 0) << r.err << d.log();
  std::string dir = d.state_dir() + "/instances/vm1";
  std::string top = dir + "/disks/disk-0.qcow2";
  std::string scratch = tmp.path + "/flat.raw";
  ASSERT_TRUE(eventually([&] { return last_tick(d, "vm1") >= 3; }, 1200)) << d.vessel({"logs", "vm1"}).out;

  // Marker A: the count on the disk at the snapshot's instant, in its frozen layer.
  r = d.vessel({"snapshot", "create", "vm1", "s1"});
  ASSERT_EQ(r.status, 0) << r.err << d.log();
  EXPECT_EQ(r.out, "s1\n");
  EXPECT_EQ(d.vessel_json({"inspect", "vm1"}).value("state", ""), "running");
  auto list = snapshot_list(d, "vm1");
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0].value("name", ""), "s1");
  EXPECT_TRUE(list[0].value("memory", false));
  EXPECT_GT(list[0].value("size", uint64_t{0}), 0u);
  ASSERT_EQ(list[0]["disks"].size(), 1u);
  std::string layer1 = list[0]["disks"][0].value("layer", "");
  long a = disk_count(layer1, scratch);
  ASSERT_GE(a, 3) << "the snapshot's layer holds the count of its instant";
  EXPECT_EQ(qemu_img_info_backing(top), layer1) << "the VM goes on over the frozen layer";

  // Marker B: the VM goes on from A, counting on its new top.
  ASSERT_TRUE(eventually([&] { return last_tick(d, "vm1") >= a + 3; }, 1200)) << d.vessel({"logs", "vm1"}).out;
  EXPECT_EQ(occurrences(ticks(d, "vm1"), a + 1), 1u) << "the snapshot went on from its own instant";
  long b = disk_count(top, scratch);
  EXPECT_GT(b, a);
  EXPECT_EQ(disk_count(layer1, scratch), a) << "the layer is never written";

  // Restore: memory and disk go back to A together (the guest checks the disk against memory at
  // every tick and says "bad" otherwise), twice.
  for (int round = 1; round <= 2; ++round) {
    pid_t before = d.vessel_json({"inspect", "vm1"}).value("pid", 0);
    r = d.vessel({"snapshot", "restore", "vm1", "s1"});
    ASSERT_EQ(r.status, 0) << r.err << d.log();
    auto info = d.vessel_json({"inspect", "vm1"});
    EXPECT_EQ(info.value("state", ""), "running");
    EXPECT_NE(info.value("pid", 0), before) << "a new vessel-vmm";
    EXPECT_FALSE(alive(before));
    ASSERT_TRUE(eventually([&] { return occurrences(ticks(d, "vm1"), a + 2) >= static_cast<size_t>(round + 1); }, 1200))
        << d.vessel({"logs", "vm1"}).out;
    EXPECT_EQ(d.vessel({"logs", "vm1"}).out.find("bad:"), std::string::npos) << d.vessel({"logs", "vm1"}).out;
    EXPECT_EQ(disk_count(layer1, scratch), a);
  }

  // A second snapshot on top; rm of the first keeps the layer the second stands on.
  ASSERT_EQ(d.vessel({"snapshot", "create", "vm1", "s2"}).status, 0) << d.log();
  list = snapshot_list(d, "vm1");
  ASSERT_EQ(list.size(), 2u) << list.dump();
  std::string layer2 = list[1]["disks"][0].value("layer", "");
  EXPECT_EQ(qemu_img_info_backing(layer2), layer1);
  r = d.vessel({"snapshot", "rm", "vm1", "s1"});
  ASSERT_EQ(r.status, 0) << r.err;
  list = snapshot_list(d, "vm1");
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_TRUE(fs::exists(layer1)) << "s2's disk stands on it";
  EXPECT_FALSE(fs::exists(dir + "/snapshots/s1"));
  check_all(dir);
  long c = disk_count(layer2, scratch);
  ASSERT_GE(c, a);
  ASSERT_TRUE(eventually([&] { return last_tick(d, "vm1") >= c + 2; }, 1200)) << d.vessel({"logs", "vm1"}).out;
  r = d.vessel({"snapshot", "restore", "vm1", "s2"});
  ASSERT_EQ(r.status, 0) << r.err << d.log();
  ASSERT_TRUE(eventually([&] { return occurrences(ticks(d, "vm1"), c + 2) >= 2; }, 1200)) << d.vessel({"logs", "vm1"}).out;
  EXPECT_EQ(d.vessel({"logs", "vm1"}).out.find("bad:"), std::string::npos) << d.vessel({"logs", "vm1"}).out;

  // A stopped VM: a disks-only snapshot; restoring it leaves the VM stopped on that disk.
  ASSERT_EQ(d.vessel({"stop", "vm1"}).status, 0) << d.log();
  long stopped_at = disk_count(top, scratch);
  ASSERT_EQ(d.vessel({"snapshot", "create", "vm1"}).status, 0) << d.log();
  list = snapshot_list(d, "vm1");
  ASSERT_EQ(list.size(), 2u) << list.dump();
  EXPECT_EQ(list[1].value("name", ""), "snap0");
  EXPECT_FALSE(list[1].value("memory", true));
  ASSERT_EQ(d.vessel({"snapshot", "restore", "vm1", "snap0"}).status, 0) << d.log();
  EXPECT_EQ(d.vessel_json({"inspect", "vm1"}).value("state", ""), "stopped");
  EXPECT_EQ(disk_count(top, scratch), stopped_at);
  std::string layer3 = list[1]["disks"][0].value("layer", "");
  EXPECT_EQ(qemu_img_info_backing(layer3), layer2);

  // Back to s2 (running again), then rm snap0: its layer is needed by nothing any more and goes;
  // s2's stays under the live disk after rm s2.
  ASSERT_EQ(d.vessel({"snapshot", "restore", "vm1", "s2"}).status, 0) << d.log();
  EXPECT_EQ(d.vessel_json({"inspect", "vm1"}).value("state", ""), "running");
  EXPECT_TRUE(fs::exists(layer3)) << "snap0 still stands on it";
  ASSERT_EQ(d.vessel({"snapshot", "rm", "vm1", "snap0", "s2"}).status, 0);
  EXPECT_EQ(snapshot_list(d, "vm1").size(), 0u);
  EXPECT_FALSE(fs::exists(layer3)) << "nothing needs it any more";
  EXPECT_TRUE(fs::exists(layer2)) << "the live disk stands on it";
  EXPECT_TRUE(fs::exists(layer1));
  EXPECT_EQ(qemu_img_info_backing(top), layer2);
  check_all(dir);
  ASSERT_TRUE(eventually([&] { return occurrences(ticks(d, "vm1"), c + 2) >= 3; }, 1200)) << d.vessel({"logs", "vm1"}).out;
  EXPECT_EQ(d.vessel({"logs", "vm1"}).out.find("bad:"), std::string::npos) << d.vessel({"logs", "vm1"}).out;
  ASSERT_EQ(d.vessel({"stop", "vm1"}).status, 0) << d.log();
  ASSERT_EQ(d.vessel({"rm", "vm1"}).status, 0);
  EXPECT_FALSE(fs::exists(dir));
}

TEST(VmSnapshot, BadRequestsAreRefusedAndChangeNothing) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  TempDir tmp;
  Daemon d(tmp.path, {"--vmm", vmm()});
  ASSERT_TRUE(d.start()) << d.log();
  auto r = d.vessel({"create", "--vm", "--name", "vm1", "--kernel", guest("snapshot_disk"), "--memory", "64M", "--disk",
                     "size=16M"});
  ASSERT_EQ(r.status, 0) << r.err << d.log();
  r = d.vessel({"snapshot", "restore", "vm1", "nosuch"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no snapshot nosuch"), std::string::npos) << r.err;
  for (const char* bad : {"..", "a/b", ".hidden", "a b", "x..y/z"}) {
    r = d.vessel({"snapshot", "create", "vm1", bad});
    EXPECT_NE(r.status, 0) << bad;
    EXPECT_NE(r.err.find("snapshot name"), std::string::npos) << bad << ": " << r.err;
  }
  r = d.vessel({"snapshot", "rm", "vm1", "nosuch"});
  EXPECT_NE(r.status, 0);
  ASSERT_EQ(d.vessel({"snapshot", "create", "vm1", "one"}).status, 0) << d.log();
  r = d.vessel({"snapshot", "create", "vm1", "one"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("already"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot_list(d, "vm1").size(), 1u);
  EXPECT_NE(d.vessel({"snapshot", "ls", "nosuchvm"}).status, 0);
  // The snapshots survive a restart of vesseld.
  EXPECT_EQ(d.stop(SIGTERM).code, 0);
  Daemon d2(tmp.path, {"--vmm", vmm()});
  ASSERT_TRUE(d2.start()) << d2.log();
  EXPECT_EQ(snapshot_list(d2, "vm1").size(), 1u);
  ASSERT_EQ(d2.vessel({"snapshot", "rm", "vm1", "one"}).status, 0);
  check_all(d2.state_dir() + "/instances/vm1");
}

// A VM made from an image: its disk is an overlay over the image store's base, so the chain is
// top -> layer -> base, all mounted in the jail. A paused VM is snapshotted and stays paused; the
// snapshot (with memory) survives a vesseld restart and is restored after it; --no-memory keeps
// the disks only while the VM goes on.
TEST(VmSnapshot, AnImageVmPausedAcrossADaemonRestart) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  TempDir tmp;
  std::string base = tmp.path + "/base.raw";
  ASSERT_TRUE(write_file(base, std::string(1 << 20, '\0')));
  std::string scratch = tmp.path + "/flat.raw";
  long a = -1;
  std::string dir, top, layer;
  {
    Daemon d(tmp.path, {"--vmm", vmm()});
    ASSERT_TRUE(d.start()) << d.log();
    auto r = d.vessel({"image", "import", "--vm", "--name", "img", "--kernel", guest("snapshot_disk"), "--disk",
                       "path=" + base + ",format=raw"});
    ASSERT_EQ(r.status, 0) << r.err << d.log();
    r = d.vessel({"run", "--vm", "--name", "vm1", "--memory", "64M", "--stop-timeout", "0", "img"});
    ASSERT_EQ(r.status, 0) << r.err << d.log();
    dir = d.state_dir() + "/instances/vm1";
    top = dir + "/disks/image-0.qcow2";
    ASSERT_TRUE(eventually([&] { return last_tick(d, "vm1") >= 2; }, 1200)) << d.vessel({"logs", "vm1"}).out;
    ASSERT_EQ(d.vessel({"pause", "vm1"}).status, 0);
    r = d.vessel({"snapshot", "create", "vm1", "p"});
    ASSERT_EQ(r.status, 0) << r.err << d.log();
    EXPECT_EQ(d.vessel_json({"inspect", "vm1"}).value("state", ""), "paused") << "paused again";
    auto list = snapshot_list(d, "vm1");
    ASSERT_EQ(list.size(), 1u);
    layer = list[0]["disks"][0].value("layer", "");
    a = disk_count(layer, scratch);
    ASSERT_GE(a, 2);
    EXPECT_EQ(qemu_img_info_backing(top), layer);
    std::string stored = qemu_img_info_backing(layer);
    EXPECT_NE(stored.find("/images/"), std::string::npos) << "the layer stands on the image's base: " << stored;
    long seen = last_tick(d, "vm1");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(last_tick(d, "vm1"), seen) << "it stays paused";
    ASSERT_EQ(d.vessel({"resume", "vm1"}).status, 0);
    ASSERT_TRUE(eventually([&] { return last_tick(d, "vm1") >= a + 3; }, 1200)) << d.vessel({"logs", "vm1"}).out;
    // --no-memory on a running VM: disks only, the VM goes on.
    r = d.vessel({"snapshot", "create", "--no-memory", "vm1", "d"});
    ASSERT_EQ(r.status, 0) << r.err << d.log();
    list = snapshot_list(d, "vm1");
    ASSERT_EQ(list.size(), 2u);
    EXPECT_FALSE(list[1].value("memory", true));
    EXPECT_FALSE(fs::exists(dir + "/snapshots/d/vm.mem"));
    EXPECT_EQ(d.vessel_json({"inspect", "vm1"}).value("state", ""), "running");
    EXPECT_EQ(d.stop(SIGTERM).code, 0);
  }
  Daemon d(tmp.path, {"--vmm", vmm()});
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_EQ(snapshot_list(d, "vm1").size(), 2u);
  auto r = d.vessel({"snapshot", "restore", "vm1", "p"});
  ASSERT_EQ(r.status, 0) << r.err << d.log();
  EXPECT_EQ(d.vessel_json({"inspect", "vm1"}).value("state", ""), "running");
  ASSERT_TRUE(eventually([&] { return occurrences(ticks(d, "vm1"), a + 2) >= 2; }, 1200)) << d.vessel({"logs", "vm1"}).out;
  EXPECT_EQ(d.vessel({"logs", "vm1"}).out.find("bad:"), std::string::npos) << d.vessel({"logs", "vm1"}).out;
  EXPECT_EQ(disk_count(layer, scratch), a);
  check_all(dir);
  ASSERT_EQ(d.vessel({"rm", "--force", "vm1"}).status, 0);
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace vessel::test
