// The real vessel-agent (static) on a socketpair: stat, tree-out and tree-in
// (docs/vmm/agent.md#trees) through the host's tree client. A tree goes out and comes back
// byte-exact with modes and links; tree-in refuses names with "..", and a symbolic link planted in
// the target directory (to a victim outside it) is neither followed as a parent nor written
// through.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "agent/client/tree_client.h"
#include "base/fd.h"
#include "agent_process.h"

namespace vessel::agent {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Dir {
  Dir() {
    char t[] = "/tmp/agent-tree-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Dir() { fs::remove_all(path); }
  std::string path;
};

struct Received {
  std::vector<TreeEntry> entries;
  std::map<std::string, std::string> files;
};

Result<Received> pull(const std::string& path, TreeLimits limits = {}) {
  AgentProcess a;
  Received r;
  std::string current;
  TRY(tree_out(
      *a.conn, path, false, limits,
      [&](const TreeEntry& e) -> Result<void> {
        r.entries.push_back(e);
        current = e.path;
        return {};
      },
      [&](std::string_view d) -> Result<void> {
        r.files[current] += d;
        return {};
      },
      5s));
  return r;
}

TEST(AgentTree, StatSaysWhatAPathIs) {
  Dir d;
  std::ofstream(d.path + "/f") << "12345";
  fs::create_symlink("f", d.path + "/l");
  {
    AgentProcess a;
    auto f = stat_path(*a.conn, d.path + "/f", false, 5s);
    ASSERT_TRUE(f) << f.error().to_string();
    EXPECT_TRUE(f->exists);
    EXPECT_TRUE(S_ISREG(f->mode));
    EXPECT_EQ(f->size, 5u);
  }
  {
    AgentProcess a;
    auto l = stat_path(*a.conn, d.path + "/l", false, 5s);
    ASSERT_TRUE(l);
    EXPECT_TRUE(S_ISLNK(l->mode));
    EXPECT_EQ(l->target, "f");
  }
  {
    // A link target that is not UTF-8 is answered (with U+FFFD), not a crash of the agent.
    fs::create_symlink(std::string("bad\xff"), d.path + "/odd");
    AgentProcess a;
    auto odd = stat_path(*a.conn, d.path + "/odd", false, 5s);
    ASSERT_TRUE(odd) << odd.error().to_string();
    EXPECT_EQ(odd->target, "bad\xef\xbf\xbd");
  }
  AgentProcess a;
  auto none = stat_path(*a.conn, d.path + "/none", false, 5s);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->exists);
}

TEST(AgentTree, ATreeGoesOutAndComesBackByteExact) {
  Dir src, dst;
  fs::create_directories(src.path + "/t/sub");
  std::string big;
  for (int i = 0; i < 200000; ++i) big += char(i * 13);
  std::ofstream(src.path + "/t/sub/big", std::ios::binary) << big;
  std::ofstream(src.path + "/t/a") << "alpha";
  ::chmod((src.path + "/t/a").c_str(), 0640);
  fs::create_symlink("a", src.path + "/t/l");
  auto got = pull(src.path + "/t");
  ASSERT_TRUE(got) << got.error().to_string();
  ASSERT_EQ(got->entries.size(), 5u);  // "", a, l, sub, sub/big (sorted)
  EXPECT_EQ(got->entries[0].path, "");
  EXPECT_TRUE(S_ISDIR(got->entries[0].mode));
  EXPECT_EQ(got->files["a"], "alpha");
  EXPECT_EQ(got->files["sub/big"], big);
  // Back in, under another directory.
  {
    AgentProcess a;
    auto up = TreeUpload::start(std::move(*a.conn), dst.path, false, 5s);
    a.conn.reset();
    ASSERT_TRUE(up) << up.error().to_string();
    for (const auto& e : got->entries) {
      TreeEntry renamed = e;
      renamed.path = e.path.empty() ? "copy" : "copy/" + e.path;
      ASSERT_TRUE(up->entry(renamed));
      if (S_ISREG(e.mode)) {
        ASSERT_TRUE(up->data(got->files[e.path]));
        ASSERT_TRUE(up->end_file());
      }
    }
    auto done = up->finish();
    ASSERT_TRUE(done) << done.error().to_string();
    EXPECT_EQ(done->first, 5u);
    EXPECT_EQ(done->second, big.size() + 5);
  }
  EXPECT_EQ(vessel::read_file(dst.path + "/copy/a").value_or(""), "alpha");
  EXPECT_EQ(vessel::read_file(dst.path + "/copy/sub/big").value_or(""), big);
  EXPECT_EQ(fs::read_symlink(dst.path + "/copy/l"), "a");
  struct stat st;
  ASSERT_EQ(::stat((dst.path + "/copy/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST(AgentTree, LimitsStopATreeThatIsTooLarge) {
  Dir src;
  std::ofstream(src.path + "/a") << std::string(1000, 'a');
  std::ofstream(src.path + "/b") << "b";
  TreeLimits few;
  few.max_entries = 2;
  auto r = pull(src.path, few);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), E2BIG);
  TreeLimits small;
  small.max_bytes = 500;
  r = pull(src.path, small);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EFBIG);
}

Result<std::pair<uint64_t, uint64_t>> push(const std::string& dir,
                                           const std::vector<TreeEntry>& entries,
                                           const std::string& data = "x") {
  AgentProcess a;
  auto up = TRY(TreeUpload::start(std::move(*a.conn), dir, false, 5s));
  a.conn.reset();
  for (const auto& e : entries) {
    TRY(up.entry(e));
    if (S_ISREG(e.mode)) {
      TRY(up.data(data));
      TRY(up.end_file());
    }
  }
  return up.finish();
}

TreeEntry file(std::string path) {
  return TreeEntry{std::move(path), S_IFREG | 0644, 1, 0, 0, 0, {}};
}

TEST(AgentTree, TreeInFollowsNoLinkAndRefusesDotDot) {
  Dir d, outside;
  std::ofstream(outside.path + "/victim") << "safe";
  fs::create_directories(d.path + "/in");
  fs::create_symlink(outside.path, d.path + "/in/link");
  fs::create_symlink(outside.path + "/victim", d.path + "/in/vlink");
  // Through a planted directory link: refused.
  EXPECT_FALSE(push(d.path + "/in", {file("link/victim")}));
  // Onto a link: the link is replaced, the victim untouched.
  auto r = push(d.path + "/in", {file("vlink")});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_FALSE(fs::is_symlink(d.path + "/in/vlink"));
  EXPECT_EQ(vessel::read_file(outside.path + "/victim").value_or(""), "safe");
  // A raw entry with "..": the agent's parser refuses it.
  AgentProcess a;
  auto up = TreeUpload::start(std::move(*a.conn), d.path + "/in", false, 5s);
  a.conn.reset();
  ASSERT_TRUE(up);
  (void)up->entry(file("../escape"));
  EXPECT_FALSE(up->finish());
  EXPECT_FALSE(fs::exists(d.path + "/escape"));
  EXPECT_EQ(vessel::read_file(outside.path + "/victim").value_or(""), "safe");
}

}  // namespace
}  // namespace vessel::agent
