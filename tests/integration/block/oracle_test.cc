// qemu-img is the oracle, both ways: images vessel-img writes pass `qemu-img check` and
// `qemu-img compare`; images qemu-img writes read back through vessel byte for byte.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "block/image.h"
#include "block/qcow2_format.h"
#include "sh.h"
#include "../../unit/block/test_util.h"

namespace vessel::block {
namespace {

using test::pattern;
using test::sh;
using test::TempDir;
using test::vessel_img;

// A 6 MiB source with data, zeros and compressible runs, written as raw.
std::string make_source(const TempDir& dir) {
  std::string path = dir.file("src.raw");
  auto data = pattern(6u << 20, 42);
  memset(data.data() + (1u << 20), 0, 2u << 20);           // a zero hole
  memset(data.data() + (4u << 20), 'A', 1u << 20);         // compressible
  for (size_t i = (5u << 20); i < data.size(); i += 8192) data[i] = 0;
  EXPECT_TRUE(write_file(path, std::string(data.begin(), data.end())));
  return path;
}

struct Combo {
  std::string opts;
  bool compress;
};

class VesselWrites : public ::testing::TestWithParam<Combo> {};

TEST_P(VesselWrites, QemuImgChecksAndComparesClean) {
  TempDir dir;
  std::string src = make_source(dir), dst = dir.file("out.qcow2");
  const Combo& c = GetParam();
  auto r = sh(fmt::format("{} convert -f raw -O qcow2 {} -o {} {} {}", vessel_img(), c.compress ? "-c" : "",
                          c.opts, src, dst));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh("qemu-img check -f qcow2 " + dst);
  EXPECT_EQ(r.code, 0) << r.out;
  r = sh(fmt::format("qemu-img compare -f raw -F qcow2 {} {}", src, dst));
  EXPECT_EQ(r.code, 0) << r.out;
  // And the other way: qemu-img writes into our image, we read it back.
  r = sh(fmt::format("qemu-io -f qcow2 -c 'write -P 0x5a 123k 300k' -c 'write -z 2M 64k' {}", dst));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(fmt::format("qemu-img convert -O raw {} {}", dst, dir.file("back.raw")));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(fmt::format("{} compare -f qcow2 -F raw {} {}", vessel_img(), dst, dir.file("back.raw")));
  EXPECT_EQ(r.code, 0) << r.out;
}

std::vector<Combo> vessel_combos() {
  std::vector<Combo> v;
  for (const char* cs : {"512", "4K", "64K", "2M"}) {
    for (const char* rest : {"compat=0.10", "compat=1.1,refcount_bits=16", "compat=1.1,refcount_bits=1",
                             "compat=1.1,refcount_bits=64,compression_type=zstd",
                             "compat=1.1,refcount_bits=4,compression_type=zstd"}) {
      for (bool c : {false, true}) v.push_back({fmt::format("cluster_size={},{}", cs, rest), c});
    }
  }
  return v;
}

std::string combo_name(const Combo& c) {
  std::string s = c.opts + (c.compress ? "_c" : "");
  for (char& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Options, VesselWrites, ::testing::ValuesIn(vessel_combos()),
                         [](const auto& i) { return combo_name(i.param); });

class QemuWrites : public ::testing::TestWithParam<Combo> {};

TEST_P(QemuWrites, VesselReadsByteForByte) {
  TempDir dir;
  std::string src = make_source(dir), img = dir.file("q.qcow2");
  const Combo& c = GetParam();
  auto r = sh(fmt::format("qemu-img convert -f raw -O qcow2 {} -o {} {} {}", c.compress ? "-c" : "", c.opts, src, img));
  ASSERT_EQ(r.code, 0) << r.out;
  auto a = open_backend(img, Format::Qcow2, {.read_only = true});
  ASSERT_TRUE(a) << a.error().to_string();
  auto want = read_file(src);
  ASSERT_TRUE(want);
  std::string got(want->size(), '\0');
  iovec v{got.data(), got.size()};
  ASSERT_TRUE((*a)->readv(0, {&v, 1}));
  EXPECT_TRUE(got == *want);
  r = sh(fmt::format("{} check {}", vessel_img(), img));
  EXPECT_EQ(r.code, 0) << r.out;
  // Our writes into qemu's image: qemu-img still calls it clean and sees our data. (The reader
  // goes first: its image lock keeps writers out, this process's too.)
  a->reset();
  {
    auto w = open_backend(img, Format::Qcow2, {});
    ASSERT_TRUE(w) << w.error().to_string();
    std::string s(70000, 'W');
    iovec wv{s.data(), s.size()};
    ASSERT_TRUE((*w)->writev(4u << 20, {&wv, 1}));  // over compressed clusters when -c
    ASSERT_TRUE((*w)->discard(0, 1u << 20, true));
    ASSERT_TRUE((*w)->flush());
    memcpy(want->data() + (4u << 20), s.data(), s.size());
    memset(want->data(), 0, 1u << 20);
  }
  ASSERT_TRUE(write_file(dir.file("want.raw"), *want));
  r = sh("qemu-img check " + img);
  EXPECT_EQ(r.code, 0) << r.out;
  r = sh(fmt::format("qemu-img compare -F raw {} {}", img, dir.file("want.raw")));
  EXPECT_EQ(r.code, 0) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Options, QemuWrites, ::testing::ValuesIn(vessel_combos()),
                         [](const auto& i) { return combo_name(i.param); });

// Chains made by qemu-img: raw <- qcow2 (v2) <- qcow2 (v3, compressed data), read through ours.
TEST(Chains, QemuMadeChainReadsLikeQemu) {
  TempDir dir;
  std::string src = make_source(dir);
  std::string mid = dir.file("mid.qcow2"), top = dir.file("top.qcow2");
  auto r = sh(fmt::format("cd {} && qemu-img create -f qcow2 -o compat=0.10,cluster_size=4K -b src.raw -F raw mid.qcow2 && "
                          "qemu-io -c 'write -P 0x11 100k 50k' -c 'write -z 4M 8k' mid.qcow2 && "
                          "qemu-img create -f qcow2 -o cluster_size=64K -b mid.qcow2 -F qcow2 top.qcow2 8M && "
                          "qemu-io -c 'write -P 0x22 120k 10k' -c 'write -c -P 0x33 1M 64k' -c 'write -P 0x44 7M 100k' top.qcow2",
                          dir.path()));
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_EQ(sh(fmt::format("qemu-img convert -O raw {} {}", top, dir.file("flat.raw"))).code, 0);
  r = sh(fmt::format("{} compare -F raw {} {}", vessel_img(), top, dir.file("flat.raw")));
  EXPECT_EQ(r.code, 0) << r.out;
  r = sh(fmt::format("{} convert -O raw {} {}", vessel_img(), top, dir.file("ours.raw")));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(fmt::format("cmp {} {}", dir.file("flat.raw"), dir.file("ours.raw")));
  EXPECT_EQ(r.code, 0) << r.out;
  // info --backing-chain matches qemu-img's view of the chain.
  auto ours = sh(fmt::format("{} info --output json --backing-chain {}", vessel_img(), top));
  auto theirs = sh(fmt::format("qemu-img info --output json --backing-chain {}", top));
  ASSERT_EQ(ours.code, 0) << ours.out;
  auto jo = nlohmann::json::parse(ours.out), jt = nlohmann::json::parse(theirs.out);
  ASSERT_EQ(jo.size(), jt.size());
  for (size_t i = 0; i < jo.size(); ++i) {
    for (const char* k : {"virtual-size", "format", "cluster-size", "backing-filename", "backing-filename-format", "filename"})
      EXPECT_EQ(jo[i].value(k, nlohmann::json()), jt[i].value(k, nlohmann::json())) << i << " " << k;
    if (jt[i].contains("format-specific")) {
      for (const char* k : {"compat", "refcount-bits", "compression-type", "corrupt", "lazy-refcounts"}) {
        EXPECT_EQ(jo[i]["format-specific"]["data"].value(k, nlohmann::json()),
                  jt[i]["format-specific"]["data"].value(k, nlohmann::json())) << i << " " << k;
      }
    }
  }
  // map --output json equals qemu-img map for the whole chain (no compressed ranges in mid).
  ours = sh(fmt::format("{} map --output json {}", vessel_img(), mid));
  theirs = sh(fmt::format("qemu-img map --output json {}", mid));
  EXPECT_EQ(nlohmann::json::parse(ours.out), nlohmann::json::parse(theirs.out));
}

TEST(Verbs, CreateWithBackingPassesQemuCheck) {
  TempDir dir;
  std::string src = make_source(dir);
  for (const char* opts : {"compat=0.10", "compat=1.1,cluster_size=512", "compression_type=zstd"}) {
    std::string top = dir.file(fmt::format("t{}.qcow2", strlen(opts)));
    auto r = sh(fmt::format("cd {} && {} create -f qcow2 -b src.raw -F raw -o {} {}", dir.path(), vessel_img(), opts, top));
    ASSERT_EQ(r.code, 0) << r.out;
    r = sh("qemu-img check " + top);
    EXPECT_EQ(r.code, 0) << r.out;
    r = sh(fmt::format("qemu-img compare {} {}", top, src));
    EXPECT_EQ(r.code, 0) << r.out;
  }
}

TEST(Verbs, ResizeCommitRebase) {
  TempDir dir;
  std::string src = make_source(dir);
  std::string base = dir.file("base.qcow2"), top = dir.file("top.qcow2");
  ASSERT_EQ(sh(fmt::format("qemu-img convert -O qcow2 {} {}", src, base)).code, 0);
  ASSERT_EQ(sh(fmt::format("cd {} && qemu-img create -f qcow2 -b base.qcow2 -F qcow2 top.qcow2", dir.path())).code, 0);
  ASSERT_EQ(sh(fmt::format("qemu-io -c 'write -P 0x77 1M 1M' -c 'write -z 0 64k' {}", top)).code, 0);
  ASSERT_EQ(sh(fmt::format("qemu-img convert -O raw {} {}", top, dir.file("view.raw"))).code, 0);

  // resize: grow, with qemu agreeing on the size and the image staying clean.
  auto r = sh(fmt::format("{} resize {} +10M", vessel_img(), top));
  ASSERT_EQ(r.code, 0) << r.out;
  auto info = nlohmann::json::parse(sh("qemu-img info --output json " + top).out);
  EXPECT_EQ(info["virtual-size"].get<uint64_t>(), (6u << 20) + (10u << 20));
  EXPECT_EQ(sh("qemu-img check " + top).code, 0);
  r = sh(fmt::format("{} resize {} 1M", vessel_img(), top));
  EXPECT_NE(r.code, 0) << "shrink without --shrink must fail";

  // commit: the base now holds what the overlay showed; the overlay is emptied.
  r = sh(fmt::format("{} commit {}", vessel_img(), top));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(sh("qemu-img check " + base).code, 0);
  EXPECT_EQ(sh("qemu-img check " + top).code, 0);
  r = sh(fmt::format("qemu-img compare {} {}", base, dir.file("view.raw")));
  EXPECT_EQ(r.code, 0) << r.out;
  auto m = nlohmann::json::parse(sh("qemu-img map --output json " + top).out);
  for (const auto& e : m) EXPECT_GT(e["depth"].get<int>(), 0) << e.dump();

  // rebase (safe) onto nothing: the overlay keeps its view by copying the base's data in.
  r = sh(fmt::format("{} rebase -b '' {}", vessel_img(), top));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(sh("qemu-img check " + top).code, 0);
  auto ti = nlohmann::json::parse(sh("qemu-img info --output json " + top).out);
  EXPECT_FALSE(ti.contains("backing-filename"));
  r = sh(fmt::format("qemu-img compare -s {} {}", top, base));
  EXPECT_NE(r.code, 2) << r.out;
  r = sh(fmt::format("qemu-img compare {} {}", top, base));
  EXPECT_EQ(r.code, 0) << r.out;

  // rebase -u only renames.
  r = sh(fmt::format("cd {} && {} rebase -u -b src.raw -F raw top.qcow2", dir.path(), vessel_img()));
  ASSERT_EQ(r.code, 0) << r.out;
  ti = nlohmann::json::parse(sh("qemu-img info --output json " + top).out);
  EXPECT_EQ(ti["backing-filename"], "src.raw");
  EXPECT_EQ(ti["backing-filename-format"], "raw");
  EXPECT_EQ(sh("qemu-img check " + top).code, 0);
}

TEST(Verbs, CheckExitCodesAgreeWithQemu) {
  TempDir dir;
  std::string img = dir.file("l.qcow2");
  ASSERT_EQ(sh(fmt::format("qemu-img create -f qcow2 {} 16M && qemu-io -c 'write 0 1M' {}", img, img)).code, 0);
  EXPECT_EQ(sh(fmt::format("{} check {}", vessel_img(), img)).code, 0);
  // Leak: grow the file by a cluster and give that unreferenced cluster a refcount.
  auto fd = Fd::open(img, O_RDWR);
  ASSERT_TRUE(fd);
  off_t end = lseek(fd->get(), 0, SEEK_END);
  uint64_t leaked = (static_cast<uint64_t>(end) + 65535) / 65536;
  ASSERT_EQ(ftruncate(fd->get(), static_cast<off_t>((leaked + 1) * 65536)), 0);
  uint8_t one[2] = {0, 1};
  ASSERT_TRUE(pwrite_all(fd->get(), one, 2, 2 * 65536 + leaked * 2));
  EXPECT_EQ(sh("qemu-img check " + img).code, 3);
  auto r = sh(fmt::format("{} check --output json {}", vessel_img(), img));
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["leaks"], 1);
  r = sh(fmt::format("{} check -r leaks {}", vessel_img(), img));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(sh("qemu-img check " + img).code, 0);
  // Corruption: drop the refcount of a referenced data cluster to 0.
  uint8_t zero[2] = {0, 0};
  ASSERT_TRUE(pwrite_all(fd->get(), zero, 2, 2 * 65536 + 5 * 2));
  EXPECT_EQ(sh("qemu-img check " + img).code, 2);
  EXPECT_EQ(sh(fmt::format("{} check {}", vessel_img(), img)).code, 2);
  r = sh(fmt::format("{} check -r all {}", vessel_img(), img));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(sh("qemu-img check " + img).code, 0);
  // Raw has no checks, as in qemu-img.
  ASSERT_EQ(sh(fmt::format("qemu-img create -f raw {} 1M", dir.file("r.raw"))).code, 0);
  EXPECT_EQ(sh(fmt::format("{} check -f raw {}", vessel_img(), dir.file("r.raw"))).code, 63);
}

// Two L2 entries share one data cluster, both flagged OFLAG_COPIED (the second's own cluster
// leaks). qemu-img check -r all raises the refcount to 2 and clears both flags, so that the next
// write to either copies the cluster; vessel-img must do the same, with qemu-img as the oracle.
TEST(Verbs, CheckRepairsADoublyReferencedClusterLikeQemuImg) {
  TempDir dir;
  std::string q = dir.file("q.qcow2"), v = dir.file("v.qcow2");
  ASSERT_EQ(sh(fmt::format("qemu-img create -q -f qcow2 {0} 16M && qemu-io -c 'write -P 0x61 0 64k' "
                           "-c 'write -P 0x62 64k 64k' {0}", q)).code, 0);
  {
    auto fd = Fd::open(q, O_RDWR);
    ASSERT_TRUE(fd);
    uint8_t b[8];
    ASSERT_TRUE(pread_exact(fd->get(), b, 8, 0x28));  // l1_table_offset
    uint64_t l1 = qcow2::be64(b);
    ASSERT_TRUE(pread_exact(fd->get(), b, 8, l1));
    uint64_t l2 = qcow2::be64(b) & qcow2::kOffsetMask;
    ASSERT_TRUE(pread_exact(fd->get(), b, 8, l2));  // entry 0, COPIED
    ASSERT_TRUE(qcow2::be64(b) & qcow2::kFlagCopied);
    ASSERT_TRUE(pwrite_all(fd->get(), b, 8, l2 + 8));  // entry 1 = entry 0
  }
  ASSERT_EQ(sh(fmt::format("cp {} {}", q, v)).code, 0);
  EXPECT_EQ(sh("qemu-img check " + q).code, 2);
  EXPECT_EQ(sh(fmt::format("{} check {}", vessel_img(), v)).code, 2);
  auto qr = sh("qemu-img check -r all " + q);
  auto vr = sh(fmt::format("{} check -r all {}", vessel_img(), v));
  EXPECT_EQ(qr.code, 0) << qr.out;
  EXPECT_EQ(vr.code, qr.code) << vr.out;
  auto j = nlohmann::json::parse(sh(fmt::format("{} check --output json {}", vessel_img(), v)).out, nullptr, false);
  EXPECT_FALSE(j.contains("corruptions")) << j.dump();
  EXPECT_EQ(sh("qemu-img check " + v).code, 0) << sh("qemu-img check " + v).out;
  EXPECT_EQ(sh(fmt::format("qemu-img compare {} {}", q, v)).code, 0);
  // Shared now: a write to one guest cluster leaves the other as it was. (QEMU then leaves the
  // other entry without OFLAG_COPIED at refcount 1, which its own check reports: the same on the
  // image qemu-img repaired.)
  for (const auto& img : {q, v}) {
    ASSERT_EQ(sh(fmt::format("qemu-io -c 'write -P 0x63 0 64k' {}", img)).code, 0);
    auto other = sh(fmt::format("qemu-io -c 'read -P 0x61 64k 64k' {}", img));
    EXPECT_EQ(other.out.find("Pattern verification failed"), std::string::npos) << other.out;
  }
  EXPECT_EQ(sh("qemu-img check " + v).code, sh("qemu-img check " + q).code);
  EXPECT_EQ(sh(fmt::format("{} check {}", vessel_img(), v)).code, sh("qemu-img check " + v).code);
}

TEST(Verbs, CompareReportsMismatchOffset) {
  TempDir dir;
  std::string a = dir.file("a.raw"), b = dir.file("b.qcow2");
  ASSERT_EQ(sh(fmt::format("qemu-img create -f raw {} 4M && qemu-img create -f qcow2 {} 4M", a, b)).code, 0);
  EXPECT_EQ(sh(fmt::format("{} compare {} {}", vessel_img(), a, b)).code, 0);
  ASSERT_EQ(sh(fmt::format("qemu-io -f qcow2 -c 'write -P 1 3M 512' {}", b)).code, 0);
  auto r = sh(fmt::format("{} compare {} {}", vessel_img(), a, b));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("offset 3145728"), std::string::npos) << r.out;
  EXPECT_EQ(sh(fmt::format("{} compare {} /nonexistent", vessel_img(), a)).code, 2);
}

// convert onto its own source, or onto a layer of the source's backing chain, is refused and the
// data stays (it used to turn a 64 MiB raw image into an empty 512 KiB qcow2 and exit 0).
TEST(Verbs, ConvertOntoItsOwnSourceIsRefusedAndLosesNothing) {
  TempDir dir;
  std::string raw = dir.file("d.raw"), top = dir.file("top.qcow2");
  ASSERT_EQ(sh(fmt::format("qemu-img create -q -f raw {} 64M && qemu-io -f raw -c 'write -P 7 1M 64K' {} >/dev/null && "
                           "qemu-img create -q -f qcow2 -b {} -F raw {}", raw, raw, raw, top)).code, 0);
  auto itself = sh(fmt::format("{} convert -O qcow2 {} {}", vessel_img(), raw, raw));
  EXPECT_EQ(itself.code, 1);
  EXPECT_NE(itself.out.find("the source image itself"), std::string::npos) << itself.out;
  auto backing = sh(fmt::format("cd {} && {} convert -O raw {} ./d.raw", dir.path(), vessel_img(), top));
  EXPECT_EQ(backing.code, 1);
  EXPECT_NE(backing.out.find("a backing file of the source"), std::string::npos) << backing.out;
  auto same = sh(fmt::format("qemu-io -f raw -c 'read -P 7 1M 64K' {}", raw));
  EXPECT_EQ(same.code, 0) << same.out;
  EXPECT_EQ(sh(fmt::format("qemu-img info -f raw {} | grep -q 'virtual size: 64 MiB'", raw)).code, 0);
}

}  // namespace
}  // namespace vessel::block
