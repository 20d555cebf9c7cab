// VM disks through the block layer, CLI -> vesseld -> vessel-vmm: a VM image's disk is a shared
// read-only base, every instance writes to its own qcow2 overlay (checked on the host with
// qemu-img, the oracle), the base never changes, `--disk size=` makes a private empty qcow2.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "base/fd.h"
#include "daemon_fixture.h"
#include "vm_test_kit.h"

namespace vessel::test {
namespace {

// What tests/guests/programs/virtio_blk.c expects in sectors 0..7, and writes to sector 8.
uint8_t host_byte(int i) { return static_cast<uint8_t>(i * 7 + 3); }
uint8_t guest_byte(int i) { return static_cast<uint8_t>(i * 13 + 5); }

void write_base(const std::string& path) {
  std::string data(1 << 20, '\0');
  for (int i = 0; i < 4096; ++i) data[i] = static_cast<char>(host_byte(i));
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd);
  ASSERT_TRUE(write_all(fd.get(), data.data(), data.size()));
}

json::Json qemu_img_info(const std::string& path) {
  auto r = run({"qemu-img", "info", "--output=json", "-U", path});
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(r.out).value_or(json::Json::object());
}

// The guest-visible contents of an image, flattened by qemu-img.
std::string flattened(const std::string& image, const std::string& out) {
  auto r = run({"qemu-img", "convert", "-U", "-O", "raw", image, out});
  EXPECT_EQ(r.status, 0) << r.err;
  auto data = read_file(out);
  return data ? *data : std::string();
}

bool wait_state(const Daemon& d, const std::string& name, const std::string& state) {
  for (int i = 0; i < 600; ++i) {
    if (d.vessel_json({"inspect", name}).value("state", "") == state) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class VmDisks : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built (ninja vessel-vmm)";
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  std::string instance_dir(const std::string& name) { return daemon.state_dir() + "/instances/" + name; }
  TempDir tmp;
  Daemon daemon{tmp.path, {"--vmm", vmm()}};
};

TEST_F(VmDisks, TwoInstancesShareABaseAndWriteToTheirOwnOverlays) {
  std::string base = tmp.path + "/base.raw";
  write_base(base);
  auto before = read_file(base);
  ASSERT_TRUE(before);
  auto r = daemon.vessel({"image", "import", "--vm", "--name", "blk", "--kernel", guest("virtio_blk"), "--disk",
                          "path=" + base + ",format=raw"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto image = daemon.vessel_json({"image", "inspect", "blk"});
  ASSERT_EQ(image["info"]["disks"].size(), 1u) << image.dump();
  std::string stored = image["info"]["disks"][0].value("path", "");
  EXPECT_EQ(image["info"]["disks"][0].value("format", ""), "raw");
  EXPECT_EQ(image["info"]["disks"][0].value("size", uint64_t{0}), uint64_t{1} << 20);
  struct stat st;
  ASSERT_EQ(::stat(stored.c_str(), &st), 0) << stored;
  EXPECT_EQ(st.st_mode & 0222, 0u) << "the base is read-only";

  for (const char* name : {"a", "b"}) {
    r = daemon.vessel({"run", "--vm", "--name", name, "--memory", "64M", "blk"});
    ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  }
  for (const char* name : {"a", "b"}) {
    ASSERT_TRUE(wait_state(daemon, name, "stopped")) << daemon.vessel({"logs", name}).out;
    auto log = daemon.vessel({"logs", name}).out;
    EXPECT_NE(log.find("virtio-blk: read ok"), std::string::npos) << log;
    EXPECT_NE(log.find("virtio-blk: all ok"), std::string::npos) << log;
  }

  // Each overlay: qcow2 on the stored base, backing format recorded, clean, holding the write.
  for (const char* name : {"a", "b"}) {
    std::string overlay = instance_dir(name) + "/disks/image-0.qcow2";
    auto info = qemu_img_info(overlay);
    EXPECT_EQ(info.value("format", ""), "qcow2") << info.dump();
    EXPECT_EQ(info.value("backing-filename", ""), stored) << info.dump();
    EXPECT_EQ(info.value("backing-filename-format", ""), "raw") << info.dump();
    EXPECT_EQ(info.value("virtual-size", uint64_t{0}), uint64_t{1} << 20);
    auto check = run({"qemu-img", "check", overlay});
    EXPECT_EQ(check.status, 0) << check.out << check.err;
    std::string data = flattened(overlay, tmp.path + "/" + name + ".flat");
    ASSERT_EQ(data.size(), size_t{1} << 20);
    for (int i = 0; i < 4096; ++i) {
      ASSERT_EQ(static_cast<uint8_t>(data[i]), host_byte(i)) << name << " base data at " << i;
      ASSERT_EQ(static_cast<uint8_t>(data[4096 + i]), guest_byte(i)) << name << " guest write at " << i;
    }
    // The guest's write lives in the overlay: the overlay alone (no backing) has it, not the base data.
    auto map = run({"qemu-img", "map", "--output=json", "-U", overlay});
    ASSERT_EQ(map.status, 0) << map.err;
    auto extents = json::parse(map.out).value_or(json::Json::array());
    bool write_in_overlay = false;
    for (const auto& e : extents)
      if (e.value("depth", -1) == 0 && e.value("data", false) && e.value("start", uint64_t{1}) <= 4096 &&
          e.value("start", uint64_t{0}) + e.value("length", uint64_t{0}) >= 8192)
        write_in_overlay = true;
    EXPECT_TRUE(write_in_overlay) << map.out;
  }
  // The stored base and the imported file are unchanged (sector 8 still zero).
  auto stored_now = read_file(stored);
  ASSERT_TRUE(stored_now);
  EXPECT_TRUE(*stored_now == *before) << "the shared base was written";
  EXPECT_TRUE(*read_file(base) == *before);
  auto cmp = run({"qemu-img", "compare", "-U", "-f", "raw", "-F", "raw", stored, base});
  EXPECT_EQ(cmp.status, 0) << cmp.out;

  // The image cannot go while instances use it; deleting an instance deletes its overlay.
  r = daemon.vessel({"image", "rm", "blk"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("used by instance"), std::string::npos) << r.err;
  ASSERT_EQ(daemon.vessel({"rm", "a"}).status, 0);
  EXPECT_NE(::access(instance_dir("a").c_str(), F_OK), 0);
  EXPECT_EQ(::access((instance_dir("b") + "/disks/image-0.qcow2").c_str(), F_OK), 0);
  EXPECT_EQ(daemon.vessel({"image", "rm", "blk"}).status, 1);
  ASSERT_EQ(daemon.vessel({"rm", "b"}).status, 0);
  r = daemon.vessel({"image", "rm", "blk"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(::access(stored.c_str(), F_OK), 0) << "the base goes with its image";
}

TEST_F(VmDisks, RestartKeepsTheInstancesWrites) {
  std::string base = tmp.path + "/base.qcow2";
  write_base(tmp.path + "/src.raw");
  // A qcow2 base: refused without its format (never probed, docs/daemon/vm-disks.md), then named.
  ASSERT_EQ(run({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", tmp.path + "/src.raw", base}).status, 0);
  auto unnamed = daemon.vessel({"image", "import", "--vm", "--name", "blkq", "--kernel", guest("virtio_blk"), "--disk", base});
  EXPECT_EQ(unnamed.status, 1);
  EXPECT_NE(unnamed.err.find("has no format and begins with a qcow2 header"), std::string::npos) << unnamed.err;
  ASSERT_EQ(daemon.vessel({"image", "import", "--vm", "--name", "blkq", "--kernel", guest("virtio_blk"), "--disk",
                           "path=" + base + ",format=qcow2"}).status, 0)
      << daemon.log();
  auto image = daemon.vessel_json({"image", "inspect", "blkq"});
  EXPECT_EQ(image["info"]["disks"][0].value("format", ""), "qcow2") << image.dump();
  auto ran = daemon.vessel({"run", "--vm", "--name", "q", "--memory", "64M", "blkq"});
  ASSERT_EQ(ran.status, 0) << ran.err << daemon.log();
  ASSERT_TRUE(wait_state(daemon, "q", "stopped"));
  std::string overlay = instance_dir("q") + "/disks/image-0.qcow2";
  auto first = flattened(overlay, tmp.path + "/q1.flat");
  ASSERT_EQ(daemon.vessel({"start", "q"}).status, 0) << daemon.log();
  ASSERT_TRUE(wait_state(daemon, "q", "stopped"));
  // Same overlay file (not recreated), same contents, still clean; the guest ran twice.
  EXPECT_EQ(flattened(overlay, tmp.path + "/q2.flat"), first);
  EXPECT_EQ(qemu_img_info(overlay).value("backing-filename-format", ""), "qcow2");
  EXPECT_EQ(run({"qemu-img", "check", overlay}).status, 0);
  auto log = daemon.vessel({"logs", "q"}).out;
  size_t n = 0;
  for (size_t pos = 0; (pos = log.find("virtio-blk: all ok", pos)) != std::string::npos; ++pos) ++n;
  EXPECT_EQ(n, 2u) << log;
}

TEST_F(VmDisks, SizeMakesAPrivateEmptyQcow2) {
  auto r = daemon.vessel({"create", "--vm", "--name", "e", "--kernel", guest("virtio_blk"), "--disk", "size=1G"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  std::string disk = instance_dir("e") + "/disks/disk-0.qcow2";
  auto info = qemu_img_info(disk);
  EXPECT_EQ(info.value("format", ""), "qcow2");
  EXPECT_EQ(info.value("virtual-size", uint64_t{0}), uint64_t{1} << 30);
  EXPECT_FALSE(info.contains("backing-filename")) << info.dump();
  EXPECT_EQ(run({"qemu-img", "check", disk}).status, 0);
  auto spec = daemon.vessel_json({"inspect", "e"});
  EXPECT_EQ(spec["disks"][0].value("size_mib", uint64_t{0}), 1024u) << spec.dump();
  // The guest sees an empty 1 GiB disk: sector 0 is not the host pattern, so it says so and exits.
  ASSERT_EQ(daemon.vessel({"start", "e"}).status, 0) << daemon.log();
  ASSERT_TRUE(wait_state(daemon, "e", "stopped"));
  auto log = daemon.vessel({"logs", "e"}).out;
  EXPECT_NE(log.find("capacity=2097152"), std::string::npos) << log;
  EXPECT_NE(log.find("host data mismatch"), std::string::npos) << log;
  ASSERT_EQ(daemon.vessel({"rm", "e"}).status, 0);
  EXPECT_NE(::access(disk.c_str(), F_OK), 0);
}

TEST_F(VmDisks, ImportStreamsProgressPerDisk) {
  std::string base = tmp.path + "/base.raw";
  write_base(base);
  json::Json body = {{"name", "prog"}, {"type", "vm"}, {"kernel", guest("virtio_blk")},
                     {"disks", {{{"path", base}, {"format", "raw"}}, {{"path", base}}}}};
  auto r = run({"curl", "-sS", "--unix-socket", daemon.socket(), "-X", "POST", "-H", "Content-Type: application/json",
                "--data", body.dump(), "http://localhost/v1/images?progress=1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(R"("progress":"disk 1/2")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("progress":"disk 2/2")"), std::string::npos) << r.out;
  auto last = json::parse(r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1));
  ASSERT_TRUE(last) << r.out;
  EXPECT_EQ((*last)["result"]["info"]["disks"].size(), 2u) << r.out;
  EXPECT_EQ((*last)["result"]["info"]["disks"][1].value("format", ""), "raw") << "probed";
}

TEST_F(VmDisks, BadDisksAreRefusedWithNothingLeftBehind) {
  for (const char* bad : {"size=0", "size=lots", "size=1G,ro", "path=/x,size=1G", "bogus=1", "path=/x,format=vmdk"}) {
    auto r = daemon.vessel({"create", "--vm", "--name", "bad", "--kernel", guest("virtio_blk"), "--disk", bad});
    EXPECT_EQ(r.status, 1) << bad;
    EXPECT_NE(r.err.find("vessel: error:"), std::string::npos) << bad << ": " << r.err;
  }
  auto r = daemon.vessel({"create", "--vm", "--name", "bad", "--kernel", guest("virtio_blk"), "--disk", "size=99999999G"});
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(daemon.vessel_json({"ls", "-a", "--json"}).size(), 0u);
  r = daemon.vessel({"image", "import", "--vm", "--name", "nodisk", "--kernel", guest("virtio_blk"), "--disk",
                     tmp.path + "/missing.raw"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(daemon.vessel_json({"image", "ls", "--json"}).size(), 0u);
  EXPECT_NE(::access((daemon.state_dir() + "/images/disks/nodisk").c_str(), F_OK), 0);
  // A corrupt qcow2 base is refused at import.
  std::string junk = tmp.path + "/junk.qcow2";
  {
    Fd fd(::open(junk.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    std::string header = "QFI\xfb";
    header.resize(512, '\xff');
    ASSERT_TRUE(write_all(fd.get(), header.data(), header.size()));
  }
  r = daemon.vessel({"image", "import", "--vm", "--name", "junk", "--kernel", guest("virtio_blk"), "--disk",
                     "path=" + junk + ",format=qcow2"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(daemon.vessel_json({"image", "ls", "--json"}).size(), 0u);
}

}  // namespace
}  // namespace vessel::test
