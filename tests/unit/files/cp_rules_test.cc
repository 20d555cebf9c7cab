// Docker's cp rules (files/cp_rules.h): each row of the table in docs/daemon/cp.md.
#include "files/cp_rules.h"

#include <gtest/gtest.h>

#include "files/path_stat.h"

namespace vessel::files {
namespace {

using K = Kind;

CopyPlan plan(std::string_view src, Kind sk, std::string_view dst, Kind dk) {
  auto p = plan_copy(src, sk, dst, dk);
  EXPECT_TRUE(p) << src << " -> " << dst << ": " << (p ? "" : p.error().to_string());
  return p ? *p : CopyPlan{"?", "?"};
}

int refused(std::string_view src, Kind sk, std::string_view dst, Kind dk) {
  auto p = plan_copy(src, sk, dst, dk);
  EXPECT_FALSE(p) << src << " -> " << dst << " was allowed";
  return p ? 0 : p.error().errnum();
}

TEST(CpArgs, InstanceAndLocalPaths) {
  auto a = parse_cp_arg("web:/etc/hosts");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->instance, "web");
  EXPECT_EQ(a->path, "/etc/hosts");
  auto local = parse_cp_arg("./a:b");
  ASSERT_TRUE(local);
  EXPECT_FALSE(local->instance);
  EXPECT_EQ(local->path, "./a:b");
  EXPECT_FALSE(parse_cp_arg("/x/y")->instance);
  EXPECT_EQ(parse_cp_arg("-")->path, "-");
  EXPECT_FALSE(parse_cp_arg(":/x"));
  EXPECT_FALSE(parse_cp_arg("web:"));
  EXPECT_FALSE(parse_cp_arg(""));
}

TEST(CpPaths, TrailingSlashAndDot) {
  EXPECT_TRUE(names_directory("a/"));
  EXPECT_TRUE(names_directory("a/."));
  EXPECT_FALSE(names_directory("a"));
  EXPECT_TRUE(names_contents("a/."));
  EXPECT_TRUE(names_contents("."));
  EXPECT_FALSE(names_contents("a/"));
  EXPECT_EQ(base_name("/a/b/"), "b");
  EXPECT_EQ(base_name("/a/b/."), "b");
  EXPECT_EQ(base_name("b"), "b");
  EXPECT_EQ(base_name("/"), "");
  EXPECT_EQ(dir_name("/a/b/"), "/a");
  EXPECT_EQ(dir_name("/a"), "/");
  EXPECT_EQ(dir_name("a"), ".");
}

TEST(CpRules, FileToMissingFileExistingFileAndDirectory) {
  auto p = plan("/etc/hosts", K::File, "out/h", K::Missing);
  EXPECT_EQ(p.dir, "out");
  EXPECT_EQ(p.top, "h");
  p = plan("/etc/hosts", K::File, "out/h", K::File);
  EXPECT_EQ(p.dir, "out");
  EXPECT_EQ(p.top, "h");
  p = plan("/etc/hosts", K::File, "out", K::Directory);
  EXPECT_EQ(p.dir, "out");
  EXPECT_EQ(p.top, "hosts");
}

TEST(CpRules, FileRefusals) {
  EXPECT_EQ(refused("/etc/hosts", K::File, "missing/", K::Missing), ENOENT);
  EXPECT_EQ(refused("/etc/hosts/", K::File, "out", K::Directory), ENOTDIR);
  EXPECT_EQ(refused("/etc/hosts", K::File, "a-file/", K::File), ENOTDIR);
  EXPECT_EQ(refused("/nothing", K::Missing, "out", K::Directory), ENOENT);
}

TEST(CpRules, DirectoryToMissingFileAndDirectory) {
  auto p = plan("/etc", K::Directory, "out/new", K::Missing);
  EXPECT_EQ(p.dir, "out");
  EXPECT_EQ(p.top, "new");
  EXPECT_EQ(refused("/etc", K::Directory, "a-file", K::File), EISDIR);
  p = plan("/etc", K::Directory, "out", K::Directory);
  EXPECT_EQ(p.dir, "out");
  EXPECT_EQ(p.top, "etc");
  p = plan("/etc/.", K::Directory, "out", K::Directory);
  EXPECT_EQ(p.dir, "out");
  EXPECT_EQ(p.top, "") << "a/. copies the contents";
  p = plan("/", K::Directory, "out", K::Directory);
  EXPECT_EQ(p.top, "");
}

TEST(PathStat, RoundTripAndHostileHeaders) {
  PathStat s{"hosts", 12, 0100644, 1700000000, ""};
  auto back = decode_path_stat(encode_path_stat(s));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->name, "hosts");
  EXPECT_EQ(back->size, 12u);
  EXPECT_EQ(back->mode, 0100644u);
  EXPECT_EQ(back->kind(), Kind::File);
  EXPECT_FALSE(decode_path_stat("not base64!"));
  EXPECT_FALSE(decode_path_stat(base64_encode("[1,2]")));
  EXPECT_FALSE(
      decode_path_stat(base64_encode(R"({"name":"x","size":1,"mode":4294967295,"mtime":0})")));
  EXPECT_FALSE(decode_path_stat(std::string(20000, 'A')));
  EXPECT_EQ(base64_decode(base64_encode("ab")).value(), "ab");
  EXPECT_EQ(base64_encode("abc"), "YWJj");
}

}  // namespace
}  // namespace vessel::files
