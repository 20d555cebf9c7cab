// Backups of VMs (docs/daemon/backup.md) between two real vesselds: a stopped VM whose qcow2
// overlay sits on a snapshot layer on its image's qcow2 base is exported, imported by the other
// vesseld (which has the same image), and boots there with the guest's earlier write in place;
// a running VM is refused with advice. Needs /dev/kvm (label kvm).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/fd.h"
#include "daemon_fixture.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

namespace fs = std::filesystem;

// What tests/guests/programs/virtio_blk.c expects in sectors 0..7.
void write_base(const std::string& raw, const std::string& qcow2) {
  std::string data(1 << 20, '\0');
  for (int i = 0; i < 4096; ++i) data[i] = static_cast<char>(i * 7 + 3);
  Fd fd(::open(raw.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd);
  ASSERT_TRUE(write_all(fd.get(), data.data(), data.size()));
  ASSERT_EQ(run({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2}).status, 0);
}

bool wait_state(const Daemon& d, const std::string& name, const std::string& state) {
  return eventually([&] { return d.vessel_json({"inspect", name}).value("state", "") == state; }, 1200);
}

std::string flattened(const std::string& image, const std::string& out) {
  auto r = run({"qemu-img", "convert", "-U", "-O", "raw", image, out});
  EXPECT_EQ(r.status, 0) << r.err;
  return read_file(out).value_or("");
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = 0; (pos = text.find(what, pos)) != std::string::npos; ++pos) ++n;
  return n;
}

TEST(VmBackup, AStoppedVmWithALayeredQcow2DiskImportsElsewhereAndBoots) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  TempDir tmp_a, tmp_b;
  SecondCgroupParent parent_b;
  Daemon a(tmp_a.path, {"--vmm", vmm()});
  Daemon b(tmp_b.path, second_vm_daemon_flags(parent_b.name));
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  std::string base = tmp_a.path + "/base.qcow2";
  write_base(tmp_a.path + "/base.raw", base);
  for (Daemon* d : {&a, &b})
    ASSERT_EQ(d->vessel({"image", "import", "--vm", "--name", "blk", "--kernel", guest("virtio_blk"), "--disk",
                         "path=" + base + ",format=qcow2"}).status, 0)
        << d->log();

  // The guest writes sector 8; a disks-only snapshot freezes that into a layer below a new top.
  ASSERT_EQ(a.vessel({"run", "--vm", "--name", "v", "--memory", "64M", "blk"}).status, 0) << a.log();
  ASSERT_TRUE(wait_state(a, "v", "stopped")) << a.vessel({"logs", "v"}).out;
  ASSERT_EQ(a.vessel({"snapshot", "create", "v", "s1"}).status, 0) << a.log();
  std::string top_a = a.state_dir() + "/instances/v/disks/image-0.qcow2";
  std::string disk_a = flattened(top_a, tmp_a.path + "/a.flat");
  ASSERT_EQ(disk_a.size(), size_t{1} << 20);

  std::string archive = tmp_a.path + "/v.tar";
  auto ex = a.vessel({"export", "v", "-o", archive, "--json"});
  ASSERT_EQ(ex.status, 0) << ex.err << a.log();
  auto summary = json::parse(ex.out).value_or(json::Json::object());
  ASSERT_EQ(summary["files"].size(), 2u) << "the top and its layer: " << ex.out;

  auto im = b.vessel({"import", archive, "--json"});
  ASSERT_EQ(im.status, 0) << im.err << b.log();
  std::string top_b = b.state_dir() + "/instances/v/disks/image-0.qcow2";
  EXPECT_EQ(flattened(top_b, tmp_b.path + "/b.flat"), disk_a) << "the guest's disk as it was";
  // Every backing file name is the destination's: the layer in its instance, then its base.
  auto info = run({"qemu-img", "info", "--backing-chain", "--output=json", "-U", top_b});
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_EQ(info.out.find(a.state_dir()), std::string::npos) << info.out;
  EXPECT_NE(info.out.find(b.state_dir() + "/instances/v/disks/layers/"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find(b.state_dir() + "/images/"), std::string::npos) << info.out;
  EXPECT_EQ(run({"qemu-img", "check", top_b}).status, 0);

  ASSERT_EQ(b.vessel({"start", "v"}).status, 0) << b.log();
  ASSERT_TRUE(wait_state(b, "v", "stopped")) << b.vessel({"logs", "v"}).out;
  auto log = b.vessel({"logs", "v"}).out;
  EXPECT_EQ(count(log, "virtio-blk: all ok"), 1u) << log;

  // A running VM is refused with advice, and a second import of one name too.
  ASSERT_EQ(a.vessel({"run", "--vm", "--name", "spin", "--kernel", guest("counter"), "--cmdline", "count=1000000",
                      "--memory", "64M", "--stop-timeout", "0"}).status, 0) << a.log();
  auto running = a.vessel({"export", "spin", "-o", tmp_a.path + "/spin.tar"});
  EXPECT_EQ(running.status, 1);
  EXPECT_NE(running.err.find("vessel stop spin"), std::string::npos) << running.err;
  EXPECT_FALSE(fs::exists(tmp_a.path + "/spin.tar"));
}

// A suspended VM exported --with-state carries its snapshot and memory: on a fresh vesseld with the
// same --state-dir (another host, as far as the instance knows) it imports suspended and its count
// goes on from the next number. Under another name its state is refused, with advice.
TEST(VmBackup, ASuspendedVmCarriesItsMemoryAndGoesOnWhereItWas) {
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
  TempDir tmp;
  std::string state = tmp.path + "/state", archive = tmp.path + "/vm1.tar";
  fs::create_directories(tmp.path + "/a");
  fs::create_directories(tmp.path + "/b");
  std::vector<long> before;
  {
    Daemon a(tmp.path + "/a", {"--vmm", vmm(), "--state-dir", state});
    ASSERT_TRUE(a.start()) << a.log();
    ASSERT_EQ(a.vessel({"run", "--vm", "--name", "vm1", "--kernel", guest("counter"), "--cmdline", "count=1000000",
                        "--memory", "64M", "--stop-timeout", "0"}).status, 0) << a.log();
    ASSERT_TRUE(eventually([&] { return logged_counts(a, "vm1").size() >= 3; })) << a.vessel({"logs", "vm1"}).out;
    auto running = a.vessel({"export", "vm1", "--with-state", "-o", archive});
    EXPECT_EQ(running.status, 1);
    EXPECT_NE(running.err.find("vessel suspend vm1"), std::string::npos) << running.err;
    ASSERT_EQ(a.vessel({"suspend", "vm1"}).status, 0) << a.log();
    before = logged_counts(a, "vm1");
    auto ex = a.vessel({"export", "vm1", "--with-state", "-o", archive, "--json"});
    ASSERT_EQ(ex.status, 0) << ex.err << a.log();
    EXPECT_NE(ex.out.find("suspended/vm.mem"), std::string::npos) << ex.out;
    EXPECT_EQ(a.stop(SIGTERM).code, 0);
  }
  fs::rename(state, state + ".a");  // the new host's state directory: the same path, nothing in it
  Daemon b(tmp.path + "/b", {"--vmm", vmm(), "--state-dir", state});
  ASSERT_TRUE(b.start()) << b.log();
  auto elsewhere = b.vessel({"import", archive, "--name", "vm2"});
  EXPECT_EQ(elsewhere.status, 1);
  EXPECT_NE(elsewhere.err.find("--state-dir"), std::string::npos) << elsewhere.err;
  EXPECT_NE(b.vessel({"inspect", "vm2"}).status, 0) << "nothing is left of a refused import";
  auto im = b.vessel({"import", archive});
  ASSERT_EQ(im.status, 0) << im.err << b.log();
  EXPECT_EQ(b.vessel_json({"inspect", "vm1"}).value("state", ""), "suspended");
  ASSERT_EQ(b.vessel({"resume", "vm1"}).status, 0) << b.log();
  ASSERT_TRUE(eventually([&] { return logged_counts(b, "vm1").size() >= 2; }, 600)) << b.vessel({"logs", "vm1"}).out;
  auto after = logged_counts(b, "vm1");
  ASSERT_FALSE(before.empty());
  EXPECT_GT(after.front(), before.back()) << "it went on, it did not boot afresh";
  for (size_t i = 1; i < after.size(); ++i) EXPECT_EQ(after[i], after[i - 1] + 1);
  ASSERT_EQ(b.vessel({"stop", "vm1"}).status, 0) << b.log();
}

}  // namespace
}  // namespace vessel::test
