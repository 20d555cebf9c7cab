// agent/protocol/tree.h: entry names, entry messages and stat answers from a hostile peer.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "agent/protocol/tree.h"

namespace vessel::agent {
namespace {

TEST(TreeProtocol, EntryNamesAreRelativeWithoutDotComponents) {
  for (const char* ok : {"", "a", "a/b", "a.b/..c", "..a"}) EXPECT_TRUE(valid_entry_path(ok)) << ok;
  for (const char* no : {"/a", "..", "a/..", "a/../b", ".", "a/./b", "a//b", "a/"})
    EXPECT_FALSE(valid_entry_path(no)) << no;
  EXPECT_FALSE(valid_entry_path(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_entry_path(std::string(5000, 'a')));
}

TEST(TreeProtocol, EntriesRoundTripAndHostileOnesAreRefused) {
  TreeEntry e{"d/f", S_IFREG | 0644, 12, 1700000000, 1, 2, {}};
  auto back = parse_tree_message(to_json(e));
  ASSERT_TRUE(back && *back) << (back ? "" : back.error());
  EXPECT_EQ((*back)->path, "d/f");
  EXPECT_EQ((*back)->size, 12u);
  auto end = parse_tree_message(tree_end());
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
  for (const char* bad :
       {R"({"op":"entry","path":"../x","mode":33188,"size":1,"mtime":0,"uid":0,"gid":0})",
        R"({"op":"entry","path":"/etc/x","mode":33188,"size":1,"mtime":0,"uid":0,"gid":0})",
        R"({"op":"entry","path":"x","mode":8630,"size":0,"mtime":0,"uid":0,"gid":0})",   // a char
                                                                                         // device
        R"({"op":"entry","path":"x","mode":41471,"size":0,"mtime":0,"uid":0,"gid":0})",  // a link
                                                                                         // without
                                                                                         // target
        R"({"op":"entry","path":"x","mode":33188,"size":-1,"mtime":0,"uid":0,"gid":0})",
        R"({"op":"entry","path":"x","mode":33188,"size":1,"mtime":0,"uid":4294967295,"gid":0})",
        R"({"op":"entry","path":"x","mode":33188,"size":2000000000000,"mtime":0,"uid":0,"gid":0})",
        R"({"op":"entry","path":"x"})", R"({"op":"other"})", R"([1])", "not json"})
    EXPECT_FALSE(parse_tree_message(bad)) << bad;
}

TEST(TreeProtocol, StatAnswersAreChecked) {
  auto missing = parse_path_info(Json{{"exists", false}});
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->exists);
  auto info = parse_path_info(to_json(PathInfo{true, S_IFDIR | 0755, 0, 5, ""}));
  ASSERT_TRUE(info);
  EXPECT_TRUE(S_ISDIR(info->mode));
  EXPECT_FALSE(
      parse_path_info(Json{{"exists", true}, {"mode", 1 << 20}, {"size", 0}, {"mtime", 0}}));
  EXPECT_FALSE(parse_path_info(Json{{"exists", "yes"}}));
  EXPECT_FALSE(parse_path_info(Json{{"exists", true},
                                    {"mode", 0},
                                    {"size", 0},
                                    {"mtime", 0},
                                    {"target", std::string(5000, 'x')}}));
}

TEST(TreeProtocol, TreeRequestsParse) {
  auto r = parse_request(R"({"op":"tree-in","path":"/srv","owners":true})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(std::get<TreeInRequest>(*r).owners);
  EXPECT_FALSE(parse_request(R"({"op":"tree-out","path":"relative"})"));
  EXPECT_FALSE(parse_request(R"({"op":"stat","path":"/x","follow":"yes"})"));
}

}  // namespace
}  // namespace vessel::agent
