// unpack_layer against hostile layers: a symlink the layer plants must never lead a later entry
// (whiteout, opaque marker, file, hardlink) onto the host. Each test puts a real victim outside
// the layer and checks it survives; the import may fail or confine the entry inside the layer.
#include "daemon/images/layer_unpack.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/fd.h"
#include "files/tar_pack.h"
#include "tar_builder.h"

namespace vessel::daemon {
namespace {

namespace fs = std::filesystem;
using test::dir;
using test::file;
using test::hardlink;
using test::make_tar;
using test::symlink;

struct Scene {
  Scene() {
    char t[] = "/tmp/vessel-layer-test.XXXXXX";
    path = ::mkdtemp(t);
    host = path + "/host";
    fs::create_directories(host);
    std::ofstream(host + "/secret") << "host data";
  }
  ~Scene() { fs::remove_all(path); }
  Result<void> unpack(const std::vector<test::TarEntry>& entries) {
    std::ofstream(path + "/layer.tar", std::ios::binary) << make_tar(entries);
    return unpack_layer(path + "/layer.tar", path + "/layer");
  }
  bool victim_intact() const {
    auto text = read_file(host + "/secret");
    struct stat st;
    return text && *text == "host data" && ::lstat((host + "/secret").c_str(), &st) == 0 &&
           S_ISREG(st.st_mode) && st.st_nlink == 1;
  }
  std::string path, host;
};

bool is_whiteout(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

TEST(LayerUnpack, WhiteoutBehindAnAbsoluteSymlinkStaysInside) {
  Scene s;
  auto r = s.unpack({symlink("x", s.host), file("x/.wh.secret", "")});
  EXPECT_TRUE(s.victim_intact()) << "the layer deleted a host file";
  EXPECT_FALSE(is_whiteout(s.host + "/secret"));
  if (r) {
    EXPECT_TRUE(fs::is_symlink(s.path + "/layer/x"));
  }
}

TEST(LayerUnpack, WhiteoutBehindARelativeSymlinkStaysInside) {
  Scene s;
  // ../../host from <layer>/x climbs out on the host; inside the root it stops at the top.
  auto r = s.unpack({symlink("x", "../host"), file("x/.wh.secret", "")});
  EXPECT_TRUE(s.victim_intact()) << "the layer deleted a host file";
  EXPECT_FALSE(is_whiteout(s.host + "/secret"));
  (void)r;
}

TEST(LayerUnpack, WhiteoutThroughAnInsideSymlinkLandsInside) {
  Scene s;
  if (::geteuid() != 0) return;  // a whiteout is a device node: mknod needs root
  fs::create_directories(s.path + "/layer" + s.host);  // where "x" leads inside the root
  auto r = s.unpack({symlink("x", s.host), file("x/.wh.secret", "")});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(s.victim_intact());
  EXPECT_TRUE(is_whiteout(s.path + "/layer" + s.host + "/secret"));
}

TEST(LayerUnpack, OpaqueMarkerBehindASymlinkStaysInside) {
  Scene s;
  auto r = s.unpack({symlink("x", s.host), file("x/.wh..wh..opq", "")});
  char value[8];
  EXPECT_LT(::getxattr(s.host.c_str(), "trusted.overlay.opaque", value, sizeof value), 0)
      << "the layer marked a host directory";
  (void)r;
}

TEST(LayerUnpack, FileWrittenThroughASymlinkStaysInside) {
  Scene s;
  auto r =
      s.unpack({symlink("x", s.host), file("x/planted", "evil"), file("x/secret", "overwritten")});
  EXPECT_FALSE(fs::exists(s.host + "/planted")) << "the layer wrote a host file";
  EXPECT_TRUE(s.victim_intact());
  (void)r;
}

TEST(LayerUnpack, FileReplacingASymlinkDoesNotFollowIt) {
  Scene s;
  auto r = s.unpack({symlink("secret", s.host + "/secret"), file("secret", "evil")});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(s.victim_intact());
  EXPECT_EQ(read_file(s.path + "/layer/secret").value_or(""), "evil");
}

TEST(LayerUnpack, HardlinkToAHostPathIsNotMade) {
  Scene s;
  auto r = s.unpack({hardlink("h", s.host + "/secret")});
  EXPECT_TRUE(s.victim_intact()) << "the layer hardlinked a host file";
  EXPECT_FALSE(r);
}

TEST(LayerUnpack, HardlinkThroughASymlinkIsNotMade) {
  Scene s;
  auto r = s.unpack({symlink("x", s.host), hardlink("h", "x/secret")});
  EXPECT_TRUE(s.victim_intact()) << "the layer hardlinked a host file";
  EXPECT_FALSE(r);
}

TEST(LayerUnpack, SymlinksResolveInsideTheLayer) {
  Scene s;
  // An absolute symlink inside an image means the image's own root: usr/lib here.
  auto r = s.unpack({dir("usr/"), dir("usr/lib/"), symlink("lib", "/usr/lib"),
                     file("lib/libc.so", "elf"), hardlink("usr/libc-again.so", "lib/libc.so")});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(read_file(s.path + "/layer/usr/lib/libc.so").value_or(""), "elf");
  EXPECT_EQ(fs::hard_link_count(s.path + "/layer/usr/lib/libc.so"), 2u);
  EXPECT_EQ(fs::read_symlink(s.path + "/layer/lib"), "/usr/lib");
}

TEST(LayerUnpack, OrdinaryLayerKeepsModesLinksAndTimes) {
  Scene s;
  test::TarEntry tool = file("bin/tool", "#!/bin/sh\n");
  tool.mode = 04755;
  auto r = s.unpack({dir("bin/"),
                     tool,
                     symlink("bin/sh", "busybox"),
                     dir("etc/"),
                     file("etc/motd", "hi"),
                     hardlink("etc/motd2", "etc/motd"),
                     {test::TarEntry::Fifo, "run/fifo", ""},
                     dir("etc/")});
  ASSERT_TRUE(r) << r.error().to_string();
  struct stat st;
  ASSERT_EQ(::stat((s.path + "/layer/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  ASSERT_EQ(::stat((s.path + "/layer/etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);  // set after the entries inside it
  EXPECT_EQ(fs::read_symlink(s.path + "/layer/bin/sh"), "busybox");
  EXPECT_EQ(fs::hard_link_count(s.path + "/layer/etc/motd"), 2u);
  EXPECT_TRUE(fs::is_fifo(s.path + "/layer/run/fifo"));
}

TEST(LayerUnpack, WhiteoutsAndOpaqueMarkers) {
  Scene s;
  if (::geteuid() != 0) return;  // whiteouts are device nodes, opacity a trusted.* xattr
  auto r = s.unpack(
      {dir("a/"), file("a/.wh.gone", ""), file("a/.wh..wh..opq", ""), file("a/.wh..wh.plnk", "")});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(is_whiteout(s.path + "/layer/a/gone"));
  char value[8] = {};
  EXPECT_EQ(
      ::getxattr((s.path + "/layer/a").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
  EXPECT_FALSE(fs::exists(s.path + "/layer/a/.wh..wh.plnk"));
}

// A container's overlayfs upper directory packed as an OCI layer (checkpoint --export) and
// unpacked into another container's (--import): whiteout, opaque directory, file, and ids moved
// from one user-namespace range to the other.
struct UpperDir : Scene {
  UpperDir() {
    fs::create_directories(path + "/upper/data");
    std::ofstream(path + "/upper/data/new.txt") << "new";
    std::ofstream(path + "/upper/marker") << "written";
  }
  // Whiteouts and opacity need root (mknod, trusted.* xattrs).
  void overlay_marks() {
    ASSERT_EQ(::mknod((path + "/upper/gone.txt").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
    ASSERT_EQ(::setxattr((path + "/upper/data").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
    for (const char* f : {"", "/data", "/data/new.txt", "/gone.txt"})
      ASSERT_EQ(::lchown((path + "/upper" + f).c_str(), 100000, 100000), 0);
    ASSERT_EQ(::chown((path + "/upper/marker").c_str(), 100005, 100005), 0);
  }
  Result<void> pack(std::optional<IdRange> from) {
    auto root = TRY(files::ConfinedRoot::open(path));
    files::PackOptions options;
    options.oci_whiteouts = true;
    if (from)
      options.ids = [r = *from](uid_t u, gid_t g) { return std::pair<int64_t, int64_t>(int64_t{u} - r.uid, int64_t{g} - r.gid); };
    Fd out = TRY(Fd::open(path + "/diff.tar", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    return files::pack(root, "upper", "", options, out.get());
  }
};

TEST(LayerUnpack, AnUpperDirectoryPackedAsALayerUnpacksTheSame) {
  UpperDir s;
  if (::geteuid() != 0) return;  // whiteouts are device nodes, opacity a trusted.* xattr
  s.overlay_marks();
  auto packed = s.pack(IdRange{100000, 100000, 65536});
  ASSERT_TRUE(packed) << packed.error().to_string();
  auto r = unpack_layer(s.path + "/diff.tar", s.path + "/again", IdRange{200000, 200000, 65536});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(is_whiteout(s.path + "/again/gone.txt"));
  EXPECT_FALSE(fs::exists(s.path + "/again/.wh.gone.txt"));
  char value[8] = {};
  EXPECT_EQ(::getxattr((s.path + "/again/data").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
  EXPECT_FALSE(fs::exists(s.path + "/again/data/.wh..wh..opq"));
  EXPECT_EQ(read_file(s.path + "/again/data/new.txt").value_or(""), "new");
  struct stat st;
  ASSERT_EQ(::stat((s.path + "/again/marker").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 200005u);
  EXPECT_EQ(st.st_gid, 200005u);
}

TEST(LayerUnpack, AnIdOutsideTheUserNamespaceRangeIsRefused) {
  UpperDir s;
  if (::geteuid() != 0) return;  // chown
  s.overlay_marks();
  ASSERT_TRUE(s.pack(IdRange{100000, 100000, 65536}));
  auto r = unpack_layer(s.path + "/diff.tar", s.path + "/again", IdRange{200000, 200000, 3});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("outside the container's 3 ids"), std::string::npos) << r.error().to_string();
}

TEST(LayerUnpack, OverlayXattrsFromTheLayerAreDropped) {
  Scene s;
  if (::geteuid() != 0) return;
  test::TarEntry d = dir("d/");
  d.xattrs = {{"trusted.overlay.redirect", "/etc"}};
  auto r = s.unpack({d});
  ASSERT_TRUE(r) << r.error().to_string();
  char value[16];
  EXPECT_LT(
      ::getxattr((s.path + "/layer/d").c_str(), "trusted.overlay.redirect", value, sizeof value),
      0);
}

TEST(LayerUnpack, DotDotIsRefused) {
  Scene s;
  EXPECT_FALSE(s.unpack({file("a/../../outside", "x")}));
  EXPECT_FALSE(fs::exists(s.path + "/outside"));
  EXPECT_FALSE(s.unpack({hardlink("h", "../host/secret")}));
  EXPECT_TRUE(s.victim_intact());
}

}  // namespace
}  // namespace vessel::daemon
