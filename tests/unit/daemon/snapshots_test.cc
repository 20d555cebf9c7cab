// The pure parts of named snapshots (docs/daemon/snapshots.md): names, snapshot.json, the create
// request, and the disk layers (freeze, unfreeze, a new top over a layer, the chain, which
// layers nothing needs) on real qcow2 files checked by the block layer's own `check`.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "base/fd.h"
#include "block/block_backend.h"
#include "block/image.h"
#include "block/img_ops.h"
#include "block/qcow2_check.h"
#include "daemon/api/snapshot_request.h"
#include "daemon/images/disk_layers.h"
#include "daemon/instances/snapshot_meta.h"

namespace vessel::daemon {
namespace {

namespace fs = std::filesystem;

TEST(SnapshotName, OnlyPlainNames) {
  for (const char* ok : {"s1", "snap0", "before-upgrade", "v1.2_x", "A"}) EXPECT_TRUE(check_snapshot_name(ok)) << ok;
  for (const char* bad : {"", "..", ".", ".x", "-x", "a/b", "../x", "a b", "a\\b", "é"})
    EXPECT_FALSE(check_snapshot_name(bad)) << bad;
  EXPECT_FALSE(check_snapshot_name(std::string(64, 'a')));
  EXPECT_TRUE(check_snapshot_name(std::string(63, 'a')));
  auto e = check_snapshot_name("a/b");
  EXPECT_EQ(e.error().errnum(), EINVAL);
}

TEST(SnapshotName, DefaultIsTheLowestFreeSnapN) {
  EXPECT_EQ(default_snapshot_name({}), "snap0");
  EXPECT_EQ(default_snapshot_name({"snap0", "x", "snap2"}), "snap1");
}

TEST(SnapshotMeta, RoundTripsAndRefusesPathsOutsideTheInstance) {
  SnapshotMeta m{"s1", 1700000000, true, {{"/st/i/vm/disks/disk-0.qcow2", "/st/i/vm/disks/layers/s1-1/disk-0.qcow2"}}};
  auto back = snapshot_meta_from_json(to_json(m), "/st/i/vm");
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->name, "s1");
  EXPECT_EQ(back->created, 1700000000);
  EXPECT_TRUE(back->memory);
  ASSERT_EQ(back->disks.size(), 1u);
  EXPECT_EQ(back->disks[0].layer, m.disks[0].layer);
  EXPECT_FALSE(snapshot_meta_from_json(to_json(m), "/st/i/other"));
  for (const char* bad : {"/etc/shadow", "/st/i/vm/disks/../../../etc/passwd", "/st/i/vm/disks/./x", "relative"}) {
    SnapshotMeta b = m;
    b.disks[0].layer = bad;
    EXPECT_FALSE(snapshot_meta_from_json(to_json(b), "/st/i/vm")) << bad;
  }
  auto j = to_json(m);
  j["name"] = "../x";
  EXPECT_FALSE(snapshot_meta_from_json(j, "/st/i/vm"));
  j = to_json(m);
  j.erase("memory");
  EXPECT_FALSE(snapshot_meta_from_json(j, "/st/i/vm"));
  EXPECT_FALSE(snapshot_meta_from_json(json::Json::array(), "/st/i/vm"));
}

TEST(SnapshotRequest, ParsesNameAndMemoryAndRefusesTheRest) {
  auto empty = parse_snapshot_request("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->name.empty());
  EXPECT_TRUE(empty->memory);
  auto r = parse_snapshot_request(R"({"name": "s1", "memory": false})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "s1");
  EXPECT_FALSE(r->memory);
  for (const char* bad : {R"({"name": ".."})", R"({"name": "a/b"})", R"({"memory": 1})", R"({"nme": "x"})", "[]", "{",
                          R"({"name": 5})"})
    EXPECT_FALSE(parse_snapshot_request(bad)) << bad;
}

TEST(UnneededLayers, AreTheOnesNoChainNames) {
  EXPECT_EQ(unneeded_layers({"/l/a", "/l/b", "/l/c"}, {"/top", "/l/b", "/base"}), (std::vector<std::string>{"/l/a", "/l/c"}));
  EXPECT_TRUE(unneeded_layers({}, {"/x"}).empty());
}

class DiskLayers : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vessel-layers-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    base = dir + "/base.qcow2";
    top = dir + "/disks/disk-0.qcow2";
    fs::create_directories(dir + "/disks");
    block::CreateRequest r;
    r.format = block::Format::Qcow2;
    r.path = base;
    r.size = 1 << 20;
    ASSERT_TRUE(block::create_image(r));
    r.path = top;
    r.size.reset();
    r.backing = base;
    r.backing_format = block::Format::Qcow2;
    ASSERT_TRUE(block::create_image(r));
  }
  void TearDown() override { fs::remove_all(dir); }

  void write_byte(const std::string& image, char c) {
    auto b = block::open_image(image, block::Format::Qcow2, {.backing = block::BackingPolicy::Follow});
    ASSERT_TRUE(b) << b.error().to_string();
    char buf[512];
    std::memset(buf, c, sizeof buf);
    iovec iov{buf, sizeof buf};
    ASSERT_TRUE((*b)->writev(0, {&iov, 1}));
    ASSERT_TRUE((*b)->flush());
  }
  char read_byte(const std::string& image) {
    auto b = block::open_image(image, block::Format::Qcow2, {.read_only = true, .backing = block::BackingPolicy::Follow});
    EXPECT_TRUE(b) << b.error().to_string();
    if (!b) return '?';
    char buf[512] = {};
    iovec iov{buf, sizeof buf};
    EXPECT_TRUE((*b)->readv(0, {&iov, 1}));
    return buf[0];
  }
  void expect_clean(const std::string& image) {
    auto report = block::qcow2::check(image, block::qcow2::Repair::None);
    ASSERT_TRUE(report) << image << ": " << report.error().to_string();
    EXPECT_EQ(report->corruptions + report->leaks + report->check_errors, 0u) << image;
  }

  std::string dir, base, top;
};

TEST_F(DiskLayers, FreezeMakesAReadOnlyLayerUnderANewTopAndRestoreResetsTheTop) {
  write_byte(top, 'A');
  auto chain = backing_chain(top);
  ASSERT_TRUE(chain);
  EXPECT_EQ(*chain, std::vector<std::string>{base});
  std::string layer = dir + "/disks/layers/s1-1/disk-0.qcow2";
  ASSERT_TRUE(freeze_disk(top, layer));
  struct stat st;
  ASSERT_EQ(::stat(layer.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  chain = backing_chain(top);
  ASSERT_TRUE(chain);
  EXPECT_EQ(*chain, (std::vector<std::string>{layer, base}));
  EXPECT_EQ(read_byte(top), 'A') << "the new top shows the layer's data";
  write_byte(top, 'B');
  EXPECT_EQ(read_byte(layer), 'A') << "the layer is not written";
  ASSERT_TRUE(reset_top(top, layer));
  EXPECT_EQ(read_byte(top), 'A') << "back to the snapshot";
  write_byte(top, 'C');
  ASSERT_TRUE(reset_top(top, layer));
  EXPECT_EQ(read_byte(top), 'A') << "twice";
  EXPECT_EQ(*qcow2_virtual_size(top), 1u << 20);
  for (const auto& f : {top, layer, base}) expect_clean(f);
}

TEST_F(DiskLayers, UnfreezeUndoesAFreezeAndAFreezeNeverOverwritesALayer) {
  write_byte(top, 'A');
  std::string layer = dir + "/disks/layers/x/disk-0.qcow2";
  ASSERT_TRUE(freeze_disk(top, layer));
  ASSERT_TRUE(unfreeze_disk(top, layer));
  EXPECT_FALSE(fs::exists(layer));
  EXPECT_EQ(read_byte(top), 'A');
  EXPECT_EQ(*backing_chain(top), std::vector<std::string>{base});
  write_byte(top, 'B');  // writable again
  ASSERT_TRUE(write_file(layer, "x"));
  auto again = freeze_disk(top, layer);
  EXPECT_FALSE(again);
  EXPECT_EQ(read_byte(top), 'B') << "a refused freeze changes nothing";
  EXPECT_FALSE(freeze_disk(dir + "/missing.qcow2", dir + "/disks/layers/y/m.qcow2"));
  expect_clean(top);
}

TEST_F(DiskLayers, ARawImageHasNoChainAndALoopIsAnError) {
  std::string raw = dir + "/raw.img";
  ASSERT_TRUE(write_file(raw, std::string(4096, 'r')));
  auto chain = backing_chain(raw);
  ASSERT_TRUE(chain);
  EXPECT_TRUE(chain->empty());
  // b -> a -> b
  block::CreateRequest r;
  r.format = block::Format::Qcow2;
  r.size = 1 << 20;
  r.path = dir + "/a.qcow2";
  r.backing = dir + "/b.qcow2";
  r.backing_format = block::Format::Qcow2;
  block::CreateRequest rb = r;
  rb.path = dir + "/b.qcow2";
  rb.backing.clear();
  rb.backing_format.reset();
  ASSERT_TRUE(block::create_image(rb));
  ASSERT_TRUE(block::create_image(r));
  auto rebased = block::rebase_image(dir + "/b.qcow2", block::Format::Qcow2, dir + "/a.qcow2", block::Format::Qcow2, true);
  ASSERT_TRUE(rebased) << rebased.error().to_string();
  EXPECT_FALSE(backing_chain(dir + "/a.qcow2"));
}

}  // namespace
}  // namespace vessel::daemon
