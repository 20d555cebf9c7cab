// tar pack and unpack inside a root (files/tar_pack.h, files/tar_unpack.h): a round trip keeps
// contents, modes and links; a hostile archive (.., a planted symlink, a symlink already at the
// destination, a foreign name, a device node, too many entries) never touches the victim file
// outside the root.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/fd.h"
#include "files/tar_pack.h"
#include "files/tar_unpack.h"
#include "tar_builder.h"

namespace vessel::files {
namespace {

namespace fs = std::filesystem;

struct Scene {
  Scene() {
    char t[] = "/tmp/vessel-cp-test.XXXXXX";
    path = ::mkdtemp(t);
    host = path + "/host";
    root = path + "/root";
    fs::create_directories(host);
    fs::create_directories(root + "/dest");
    std::ofstream(host + "/secret") << "host data";
  }
  ~Scene() { fs::remove_all(path); }
  Result<UnpackStats> unpack(const std::string& tar, const UnpackOptions& o = {},
                             const std::string& dir = "dest") {
    auto r = TRY(ConfinedRoot::open(root));
    auto in = TRY(open_tar_memory(tar));
    UnpackOptions options = o;
    options.chown = o.chown && ::geteuid() == 0;
    return files::unpack(r, dir, in.get(), options);
  }
  bool victim_intact() const {
    auto text = read_file(host + "/secret");
    return text && *text == "host data";
  }
  std::string path, host, root;
};

std::string slurp(int fd) {
  std::string out;
  char buf[4096];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string device_tar(const char* name) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* user, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(user)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, AE_IFCHR);
  archive_entry_set_perm(e, 0666);
  archive_entry_set_rdevmajor(e, 1);
  archive_entry_set_rdevminor(e, 3);
  archive_write_header(a, e);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

TEST(TarCopy, RoundTripKeepsContentsModesAndLinks) {
  Scene s;
  fs::create_directories(s.root + "/src/d/sub");
  std::ofstream(s.root + "/src/d/a") << "alpha";
  std::ofstream(s.root + "/src/d/sub/b") << std::string(200000, 'b');
  ::chmod((s.root + "/src/d/a").c_str(), 0640);
  fs::create_symlink("a", s.root + "/src/d/link");
  auto root = ConfinedRoot::open(s.root);
  ASSERT_TRUE(root);
  char t[] = "/tmp/vessel-cp-tar.XXXXXX";
  Fd tar(::mkstemp(t));
  ::unlink(t);
  auto packed = pack(*root, "src/d", "d", {}, tar.get());
  ASSERT_TRUE(packed) << packed.error().to_string();
  UnpackOptions o;
  o.rebase = std::pair{std::string("d"), std::string("copy")};
  auto r = s.unpack(slurp(tar.get()), o);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(read_file(s.root + "/dest/copy/a").value_or(""), "alpha");
  EXPECT_EQ(read_file(s.root + "/dest/copy/sub/b").value_or("").size(), 200000u);
  EXPECT_EQ(fs::read_symlink(s.root + "/dest/copy/link"), "a");
  struct stat st;
  ASSERT_EQ(::stat((s.root + "/dest/copy/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_GE(r->bytes, 200005u);
}

TEST(TarCopy, ContentsOnlyWithAnEmptyTop) {
  Scene s;
  fs::create_directories(s.root + "/src/d");
  std::ofstream(s.root + "/src/d/a") << "alpha";
  auto root = ConfinedRoot::open(s.root);
  char t[] = "/tmp/vessel-cp-tar.XXXXXX";
  Fd tar(::mkstemp(t));
  ::unlink(t);
  ASSERT_TRUE(pack(*root, "src/d", "", {}, tar.get()));
  ASSERT_TRUE(s.unpack(slurp(tar.get())));
  EXPECT_EQ(read_file(s.root + "/dest/a").value_or(""), "alpha");
  // The same through a rebase that drops the top: what GET .../archive of d/. gives the CLI.
  char t2[] = "/tmp/vessel-cp-tar.XXXXXX";
  Fd tar2(::mkstemp(t2));
  ::unlink(t2);
  ASSERT_TRUE(pack(*root, "src/d", "d", {}, tar2.get()));
  UnpackOptions o;
  o.rebase = std::pair{std::string("d"), std::string()};
  fs::remove(s.root + "/dest/a");
  ASSERT_TRUE(s.unpack(slurp(tar2.get()), o));
  EXPECT_EQ(read_file(s.root + "/dest/a").value_or(""), "alpha");
  EXPECT_FALSE(fs::exists(s.root + "/dest/d"));
}

TEST(TarCopy, StatSaysWhatAPathIs) {
  Scene s;
  std::ofstream(s.root + "/f") << "12345";
  fs::create_symlink("f", s.root + "/l");
  auto root = ConfinedRoot::open(s.root);
  auto f = stat_in(*root, "f", false);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->name, "f");
  EXPECT_EQ(f->size, 5u);
  auto l = stat_in(*root, "l", false);
  ASSERT_TRUE(l);
  EXPECT_TRUE(S_ISLNK(l->mode));
  EXPECT_EQ(l->link_target, "f");
  EXPECT_TRUE(S_ISREG(stat_in(*root, "l", true)->mode));
  EXPECT_EQ(stat_in(*root, "nothing", false).error().errnum(), ENOENT);
}

TEST(TarCopy, ASymlinkOutOfTheRootIsNotFollowedWhenReading) {
  Scene s;
  fs::create_symlink(s.host + "/secret", s.root + "/evil");
  fs::create_symlink("../../../../../../" + s.host.substr(1), s.root + "/evil2");
  auto root = ConfinedRoot::open(s.root);
  for (const char* name : {"evil", "evil2"}) {
    char t[] = "/tmp/vessel-cp-tar.XXXXXX";
    Fd tar(::mkstemp(t));
    ::unlink(t);
    PackOptions o;
    o.follow_link = true;  // -L: followed, but inside the root only
    auto r = pack(*root, name, name, o, tar.get());
    EXPECT_EQ(slurp(tar.get()).find("host data"), std::string::npos) << name << " read a host file";
    EXPECT_FALSE(r) << name;
  }
}

TEST(TarCopy, DotDotIsRefused) {
  Scene s;
  auto r = s.unpack(test::make_tar({test::file("../../host/secret", "owned")}));
  EXPECT_FALSE(r);
  EXPECT_TRUE(s.victim_intact());
}

TEST(TarCopy, APlantedSymlinkLeadsNowhereOutside) {
  Scene s;
  for (const auto& target : {s.host, std::string("../../host"), std::string("/")}) {
    auto r =
        s.unpack(test::make_tar({test::symlink("x", target), test::file("x/secret", "owned")}));
    EXPECT_TRUE(s.victim_intact()) << "through a symlink to " << target;
    fs::remove_all(s.root + "/dest");
    fs::create_directories(s.root + "/dest");
    (void)r;
  }
}

TEST(TarCopy, ASymlinkAtTheDestinationIsReplacedNotWrittenThrough) {
  Scene s;
  fs::create_symlink(s.host + "/secret", s.root + "/dest/f");
  auto r = s.unpack(test::make_tar({test::file("f", "new")}));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(s.victim_intact());
  EXPECT_FALSE(fs::is_symlink(s.root + "/dest/f"));
  EXPECT_EQ(read_file(s.root + "/dest/f").value_or(""), "new");
}

TEST(TarCopy, AHardLinkOutOfTheRootIsRefusedOrStaysInside) {
  Scene s;
  auto r = s.unpack(test::make_tar({test::hardlink("h", s.host + "/secret")}));
  EXPECT_FALSE(r);
  struct stat st;
  ASSERT_EQ(::stat((s.host + "/secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
}

TEST(TarCopy, ADestinationSymlinkResolvesInsideTheRoot) {
  Scene s;
  // dest2 -> /host: as a path in the container it is <root>/host, never the host's.
  fs::create_symlink(s.host, s.root + "/dest2");
  fs::create_directories(s.root + s.host);
  auto r = s.unpack(test::make_tar({test::file("secret", "owned")}), {}, "dest2");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(s.victim_intact());
  EXPECT_EQ(read_file(s.root + s.host + "/secret").value_or(""), "owned");
}

TEST(TarCopy, ARebaseRefusesForeignNames) {
  Scene s;
  UnpackOptions o;
  o.rebase = std::pair{std::string("d"), std::string("copy")};
  auto r = s.unpack(test::make_tar({test::file("d/a", "ok"), test::file("other/b", "no")}), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EINVAL);
  EXPECT_FALSE(fs::exists(s.root + "/dest/other"));
}

TEST(TarCopy, DeviceNodesOnlyWhenAllowed) {
  Scene s;
  auto r = s.unpack(device_tar("null"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EPERM);
  EXPECT_FALSE(fs::exists(s.root + "/dest/null"));
  if (::geteuid() != 0) return;
  UnpackOptions o;
  o.allow_devices = true;
  ASSERT_TRUE(s.unpack(device_tar("null"), o));
  EXPECT_TRUE(fs::is_character_file(s.root + "/dest/null"));
}

TEST(TarCopy, ADirectoryAndAFileDoNotReplaceEachOther) {
  Scene s;
  fs::create_directories(s.root + "/dest/d");
  std::ofstream(s.root + "/dest/f") << "file";
  EXPECT_EQ(s.unpack(test::make_tar({test::file("d", "x")})).error().errnum(), EISDIR);
  EXPECT_EQ(s.unpack(test::make_tar({test::dir("f")})).error().errnum(), ENOTDIR);
  EXPECT_TRUE(fs::is_directory(s.root + "/dest/d"));
}

TEST(TarCopy, EntriesAreBounded) {
  Scene s;
  UnpackOptions o;
  o.max_entries = 2;
  auto r =
      s.unpack(test::make_tar({test::file("a", ""), test::file("b", ""), test::file("c", "")}), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), E2BIG);
}

TEST(TarCopy, GarbageIsAnError) {
  Scene s;
  EXPECT_FALSE(s.unpack(std::string(1024, 'x')));
}

// Needs root (chown): labelled integration, not unit (tests/unit/files/CMakeLists.txt).
TEST(TarCopyAsRoot, OwnersAreTheCallersChoice) {
  if (::geteuid() != 0) FAIL() << "chown needs root: run the integration tests as root";
  Scene s;
  UnpackOptions o;
  o.uid = 100000;
  o.gid = 100000;
  ASSERT_TRUE(s.unpack(test::make_tar({test::file("f", "x")}), o));
  struct stat st;
  ASSERT_EQ(::stat((s.root + "/dest/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
  o.keep_owner = true;
  o.ids = [](int64_t uid, int64_t gid) -> Result<std::pair<uid_t, gid_t>> {
    if (uid >= 65536) return fail(EINVAL, "outside");
    return std::pair{static_cast<uid_t>(200000 + uid), static_cast<gid_t>(200000 + gid)};
  };
  ASSERT_TRUE(s.unpack(test::make_tar({test::file("g", "x")}), o));  // the builder's owner: 0
  ASSERT_EQ(::stat((s.root + "/dest/g").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 200000u);
  // Parents the archive does not list are made, owned like the files (a container's root).
  o.keep_owner = false;
  ASSERT_TRUE(s.unpack(test::make_tar({test::file("p/q/f", "x")}), o));
  ASSERT_EQ(::stat((s.root + "/dest/p/q").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

}  // namespace
}  // namespace vessel::files
