// What a fetch from a peer cut short by a kill leaves beside the image store (docs/cluster.md#images):
// removed at vesseld's start, whatever PID names it; nothing else is touched.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/cluster_image_fetch.h"
#include "temp_dir.h"

namespace vessel::daemon {
namespace {

namespace fs = std::filesystem;

TEST(StaleFetches, EveryFetchFileGoesAndNothingElse) {
  test::TempDir tmp;
  std::string dir = tmp.path + "/images";
  fs::create_directories(dir + "/blobs/sha256");
  auto touch = [&](const std::string& name) { std::ofstream(dir + "/" + name) << "x"; };
  std::string alive = ".fetch-" + std::to_string(::getpid()) + ".tar";  // a live PID: stale all the same
  for (const auto& name : {alive, std::string(".fetch-4194303.tar"), std::string(".fetch-1.tar")}) touch(name);
  const std::vector<std::string> kept{".fetch-.tar", ".fetch-12.tar.partial", ".fetch-1x.tar", "fetch-12.tar",
                                      ".fetch-12.tgz", "x.fetch-12.tar", ".fetch--1.tar"};
  for (const auto& name : kept) touch(name);
  fs::create_directories(dir + "/.fetch-77.tar");  // not a file a fetch writes
  fs::create_symlink(dir + "/fetch-12.tar", dir + "/.fetch-78.tar");

  EXPECT_EQ(remove_stale_fetches(dir), 3u);
  EXPECT_FALSE(fs::exists(dir + "/" + alive));
  EXPECT_FALSE(fs::exists(dir + "/.fetch-4194303.tar"));
  EXPECT_FALSE(fs::exists(dir + "/.fetch-1.tar"));
  for (const auto& name : kept) EXPECT_TRUE(fs::exists(dir + "/" + name)) << name;
  EXPECT_TRUE(fs::is_directory(dir + "/.fetch-77.tar"));
  EXPECT_TRUE(fs::is_symlink(dir + "/.fetch-78.tar"));
  EXPECT_TRUE(fs::is_directory(dir + "/blobs/sha256"));
  EXPECT_EQ(remove_stale_fetches(dir), 0u);
  EXPECT_EQ(remove_stale_fetches(dir + "/none"), 0u) << "no store yet: nothing to do";
}

}  // namespace
}  // namespace vessel::daemon
