// Which backing files an image may bring in (BackingPolicy, image.cc) and the image locks
// (image_lock.cc): each rule with a secret file the image tries to reach, each lock with a
// second opener in this process (OFD locks conflict between file descriptions, whoever owns them).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/fd.h"
#include "block/image.h"
#include "block/image_lock.h"
#include "block/img_ops.h"
#include "block/qcow2.h"
#include "block/qcow2_check.h"
#include "block/qcow2_create.h"
#include "test_util.h"

namespace vessel::block {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

constexpr uint64_t kSize = 1u << 20;
const std::string kSecret = "the host's secret: 0123456789";

// An image of `size` bytes naming `backing` (of `backing_format`, "" for none recorded).
void make_qcow2(const std::string& path, const std::string& backing, const std::string& backing_format = "raw") {
  ASSERT_TRUE(qcow2::create(path, {kSize, 16, 3, 4, qcow2::Compression::Zlib, backing,
                                   backing.empty() ? "" : backing_format}));
}
void make_secret(const std::string& path) {
  std::string bytes(kSize, '\0');
  bytes.replace(0, kSecret.size(), kSecret);
  ASSERT_TRUE(write_file(path, bytes));
}
std::string first_bytes(BlockBackend& b, size_t n) {
  std::string s(n, '\0');
  iovec v{s.data(), n};
  EXPECT_TRUE(b.readv(0, {&v, 1}));
  return s;
}
OpenOptions with(BackingPolicy p, bool read_only = true) {
  OpenOptions o;
  o.read_only = read_only;
  o.backing = p;
  return o;
}

TEST(BackingPolicy, InsideFollowsRelativeNamesInTheFolderAndBelow) {
  TempDir dir;
  fs::create_directories(dir.file("bases"));
  make_secret(dir.file("bases/base.raw"));
  make_qcow2(dir.file("top.qcow2"), "bases/base.raw");
  auto img = open_image(dir.file("top.qcow2"), Format::Qcow2, with(BackingPolicy::Inside));
  ASSERT_TRUE(img) << img.error().to_string();
  EXPECT_EQ(first_bytes(**img, kSecret.size()), kSecret);
}

TEST(BackingPolicy, InsideRefusesAbsoluteNamesDotDotAndSymlinksOut) {
  TempDir outside, dir;
  std::string secret = outside.file("secret.raw");
  make_secret(secret);
  fs::create_directories(dir.file("vm"));
  ASSERT_EQ(::symlink(secret.c_str(), dir.file("vm/link.raw").c_str()), 0);
  std::string up = "../../" + fs::path(outside.path()).filename().string() + "/secret.raw";
  for (const std::string& name : {secret, up, std::string("link.raw"), std::string("./../vm/link.raw")}) {
    SCOPED_TRACE(name);
    std::string top = dir.file("vm/top.qcow2");
    make_qcow2(top, name);
    auto img = open_image(top, Format::Qcow2, with(BackingPolicy::Inside));
    ASSERT_FALSE(img) << "the image reached " << name;
    EXPECT_EQ(img.error().errnum(), EPERM) << img.error().to_string();
    EXPECT_NE(img.error().to_string().find(name), std::string::npos) << img.error().to_string();
    // The same name is qemu-img's to follow.
    auto followed = open_image(top, Format::Qcow2, with(BackingPolicy::Follow));
    ASSERT_TRUE(followed) << followed.error().to_string();
    EXPECT_EQ(first_bytes(**followed, kSecret.size()), kSecret);
  }
}

TEST(BackingPolicy, InsideAppliesToEveryLayerOfTheChain) {
  TempDir outside, dir;
  make_secret(outside.file("secret.raw"));
  make_qcow2(dir.file("mid.qcow2"), outside.file("secret.raw"));
  make_qcow2(dir.file("top.qcow2"), "mid.qcow2", "qcow2");
  auto img = open_image(dir.file("top.qcow2"), Format::Qcow2, with(BackingPolicy::Inside, false));
  ASSERT_FALSE(img);
  EXPECT_EQ(img.error().errnum(), EPERM);
}

TEST(BackingPolicy, ListedTakesOnlyTheListedFiles) {
  TempDir dir, other;
  make_secret(dir.file("base.raw"));
  make_secret(other.file("secret.raw"));
  make_qcow2(dir.file("top.qcow2"), dir.file("base.raw"));
  OpenOptions o = with(BackingPolicy::Listed, false);
  auto none = open_image(dir.file("top.qcow2"), Format::Qcow2, o);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().errnum(), EPERM);
  o.allowed_backing = {other.file("secret.raw")};
  EXPECT_FALSE(open_image(dir.file("top.qcow2"), Format::Qcow2, o));
  // Listed through a symbolic link: the files are compared after resolving it.
  ASSERT_EQ(::symlink(dir.file("base.raw").c_str(), other.file("alias.raw").c_str()), 0);
  o.allowed_backing = {other.file("alias.raw")};
  auto img = open_image(dir.file("top.qcow2"), Format::Qcow2, o);
  ASSERT_TRUE(img) << img.error().to_string();
  // The second layer needs its own listing.
  make_qcow2(dir.file("top2.qcow2"), "top.qcow2", "qcow2");
  o.allowed_backing = {dir.file("top.qcow2")};
  auto two = open_image(dir.file("top2.qcow2"), Format::Qcow2, o);
  ASSERT_FALSE(two);
  o.allowed_backing = {dir.file("top.qcow2"), dir.file("base.raw")};
  img.value().reset();
  two = open_image(dir.file("top2.qcow2"), Format::Qcow2, o);
  ASSERT_TRUE(two) << two.error().to_string();
  EXPECT_EQ(first_bytes(**two, kSecret.size()), kSecret);
}

TEST(BackingPolicy, RefuseOpensNoBackingFile) {
  TempDir dir;
  make_secret(dir.file("base.raw"));
  make_qcow2(dir.file("top.qcow2"), "base.raw");
  make_qcow2(dir.file("alone.qcow2"), "");
  auto img = open_image(dir.file("top.qcow2"), Format::Qcow2, with(BackingPolicy::Refuse));
  ASSERT_FALSE(img);
  EXPECT_EQ(img.error().errnum(), EPERM);
  EXPECT_TRUE(open_image(dir.file("alone.qcow2"), Format::Qcow2, with(BackingPolicy::Refuse)));
}

TEST(BackingPolicy, UnrecordedBackingFormatIsNotProbedWhenAskedNot) {
  TempDir dir;
  make_secret(dir.file("base.raw"));
  make_qcow2(dir.file("top.qcow2"), "base.raw", "");
  OpenOptions o = with(BackingPolicy::Inside);
  EXPECT_TRUE(open_image(dir.file("top.qcow2"), Format::Qcow2, o));
  o.probe_backing_format = false;
  auto img = open_image(dir.file("top.qcow2"), Format::Qcow2, o);
  ASSERT_FALSE(img);
  EXPECT_NE(img.error().to_string().find("does not record the format"), std::string::npos) << img.error().to_string();
}

TEST(BackingPolicy, ChainsDeeperThan64AreRefused) {
  TempDir dir;
  make_qcow2(dir.file("l0.qcow2"), "");
  for (int i = 1; i <= kMaxChainDepth + 1; ++i)
    make_qcow2(dir.file("l" + std::to_string(i) + ".qcow2"), "l" + std::to_string(i - 1) + ".qcow2", "qcow2");
  auto ok = open_image(dir.file("l" + std::to_string(kMaxChainDepth) + ".qcow2"), Format::Qcow2, with(BackingPolicy::Inside));
  EXPECT_TRUE(ok) << ok.error().to_string();
  ok.value().reset();
  auto deep = open_image(dir.file("l" + std::to_string(kMaxChainDepth + 1) + ".qcow2"), Format::Qcow2, with(BackingPolicy::Inside));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().errnum(), ELOOP) << deep.error().to_string();
}

TEST(BackingPolicy, ImgOpsFollowTheAccessPolicy) {
  TempDir outside, dir;
  make_secret(outside.file("secret.raw"));
  make_qcow2(dir.file("top.qcow2"), outside.file("secret.raw"));
  Access inside{BackingPolicy::Inside, false};
  EXPECT_FALSE(image_map(dir.file("top.qcow2"), Format::Qcow2, inside));
  EXPECT_FALSE(image_info(dir.file("top.qcow2"), Format::Qcow2, true, inside));
  EXPECT_TRUE(image_info(dir.file("top.qcow2"), Format::Qcow2, false, inside));  // names it, opens nothing
  EXPECT_FALSE(commit_image(dir.file("top.qcow2"), Format::Qcow2, false, inside));
  ConvertRequest r;
  r.src = dir.file("top.qcow2");
  r.dst = dir.file("out.raw");
  r.access = inside;
  EXPECT_FALSE(convert_image(r));
  EXPECT_FALSE(fs::exists(dir.file("out.raw")));
  r.access = {};  // qemu-img's rule
  ASSERT_TRUE(convert_image(r));
  EXPECT_EQ(read_file(dir.file("out.raw")).value_or("").substr(0, kSecret.size()), kSecret);
}

// Locks.

TEST(ImageLock, WriterExcludesWritersAndReaders) {
  TempDir dir;
  make_qcow2(dir.file("a.qcow2"), "");
  auto w = open_image(dir.file("a.qcow2"), Format::Qcow2, with(BackingPolicy::Refuse, false));
  ASSERT_TRUE(w) << w.error().to_string();
  auto w2 = open_image(dir.file("a.qcow2"), Format::Qcow2, with(BackingPolicy::Refuse, false));
  ASSERT_FALSE(w2);
  EXPECT_EQ(w2.error().errnum(), EBUSY);
  EXPECT_NE(w2.error().to_string().find("Failed to get \"write\" lock"), std::string::npos) << w2.error().to_string();
  EXPECT_NE(w2.error().to_string().find("this process"), std::string::npos) << w2.error().to_string();
  auto r = open_image(dir.file("a.qcow2"), Format::Qcow2, with(BackingPolicy::Refuse));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("Failed to get shared \"write\" lock"), std::string::npos) << r.error().to_string();
  EXPECT_FALSE(qcow2::check(dir.file("a.qcow2"), qcow2::Repair::None));
  // -U reads anyway.
  OpenOptions shared = with(BackingPolicy::Refuse);
  shared.force_share = true;
  EXPECT_TRUE(open_image(dir.file("a.qcow2"), Format::Qcow2, shared));
  EXPECT_TRUE(qcow2::check(dir.file("a.qcow2"), qcow2::Repair::None, true));
  // Creating over it would truncate it under its writer.
  EXPECT_FALSE(qcow2::create(dir.file("a.qcow2"), {kSize, 16, 3, 4, qcow2::Compression::Zlib, "", ""}));
  // The locks go with the file description.
  w->reset();
  EXPECT_TRUE(open_image(dir.file("a.qcow2"), Format::Qcow2, with(BackingPolicy::Refuse, false)));
}

TEST(ImageLock, ReadersShareAndExcludeWriters) {
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("a.raw"), std::string(kSize, 'a')));
  auto r1 = open_image(dir.file("a.raw"), Format::Raw, with(BackingPolicy::Refuse));
  auto r2 = open_image(dir.file("a.raw"), Format::Raw, with(BackingPolicy::Refuse));
  ASSERT_TRUE(r1 && r2);
  auto w = open_image(dir.file("a.raw"), Format::Raw, with(BackingPolicy::Refuse, false));
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().to_string().find("Failed to get \"write\" lock"), std::string::npos) << w.error().to_string();
  EXPECT_NE(w.error().hint().find("another process"), std::string::npos) << w.error().hint();
}

TEST(ImageLock, BackingFilesAreLockedAsReaders) {
  TempDir dir;
  make_qcow2(dir.file("base.qcow2"), "");
  make_qcow2(dir.file("a.qcow2"), "base.qcow2", "qcow2");
  make_qcow2(dir.file("b.qcow2"), "base.qcow2", "qcow2");
  auto a = open_image(dir.file("a.qcow2"), Format::Qcow2, with(BackingPolicy::Inside, false));
  ASSERT_TRUE(a) << a.error().to_string();
  // Two overlays share their base; nobody writes the base meanwhile.
  auto b = open_image(dir.file("b.qcow2"), Format::Qcow2, with(BackingPolicy::Inside, false));
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_FALSE(open_image(dir.file("base.qcow2"), Format::Qcow2, with(BackingPolicy::Inside, false)));
  EXPECT_FALSE(commit_image(dir.file("a.qcow2"), Format::Qcow2, true, {}));
}

TEST(ImageLock, ForceShareIsForReadOnlyOpensOnly) {
  TempDir dir;
  make_qcow2(dir.file("a.qcow2"), "");
  OpenOptions o = with(BackingPolicy::Refuse, false);
  o.force_share = true;
  auto w = open_image(dir.file("a.qcow2"), Format::Qcow2, o);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().errnum(), EINVAL);
}

TEST(ImageLock, NoLocksWhenAskedNot) {
  TempDir dir;
  make_qcow2(dir.file("a.qcow2"), "");
  OpenOptions o = with(BackingPolicy::Refuse, false);
  o.lock = false;
  auto w1 = open_image(dir.file("a.qcow2"), Format::Qcow2, o);
  ASSERT_TRUE(w1);
  auto fd = Fd::open(dir.file("a.qcow2"), O_RDONLY);
  ASSERT_TRUE(fd);
  EXPECT_TRUE(lock_image(fd->get(), dir.file("a.qcow2"), LockMode::Writer));
}

}  // namespace
}  // namespace vessel::block

namespace vessel::block {
namespace {

// A live migration's hand-over (docs/vmm/migration.md): the sender drops its writable image's
// locks at the pause so that the receiver can open it; taken again when the migration failed,
// which fails while the receiver still holds them. Raw and qcow2 alike; a read-only open has
// nothing to hand over.
TEST(ImageLocks, AWriterHandsItsLocksOverAndTakesThemBack) {
  test::TempDir dir;
  ASSERT_TRUE(write_file(dir.file("d.raw"), std::string(kSize, 'x')));
  make_qcow2(dir.file("d.qcow2"), "");
  for (auto [path, format] : {std::pair{dir.file("d.raw"), Format::Raw}, std::pair{dir.file("d.qcow2"), Format::Qcow2}}) {
    OpenOptions rw = with(BackingPolicy::Refuse, false);
    auto sender = open_backend(path, format, rw);
    ASSERT_TRUE(sender) << sender.error().to_string();
    EXPECT_EQ(open_backend(path, format, rw).error().errnum(), EBUSY) << path;
    ASSERT_TRUE((*sender)->hand_over_lock(true));
    {
      auto receiver = open_backend(path, format, rw);
      ASSERT_TRUE(receiver) << path << ": " << receiver.error().to_string();
      auto again = (*sender)->hand_over_lock(false);
      ASSERT_FALSE(again) << "the receiver holds them";
      EXPECT_EQ(again.error().errnum(), EBUSY);
    }
    ASSERT_TRUE((*sender)->hand_over_lock(false)) << path;
    EXPECT_EQ(open_backend(path, format, rw).error().errnum(), EBUSY) << path << ": its locks are back";
  }
  auto reader = open_backend(dir.file("d.raw"), Format::Raw, with(BackingPolicy::Refuse, true));
  ASSERT_TRUE(reader);
  EXPECT_TRUE((*reader)->hand_over_lock(true));
  EXPECT_EQ(open_backend(dir.file("d.raw"), Format::Raw, with(BackingPolicy::Refuse, false)).error().errnum(), EBUSY)
      << "a reader keeps its locks";
}

}  // namespace
}  // namespace vessel::block
