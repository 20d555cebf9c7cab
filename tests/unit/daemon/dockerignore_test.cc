// .dockerignore as Docker reads it (daemon/build/dockerignore.h): comments, a leading '/',
// wildcards per component, '**', a parent directory's exclusion, '!' exceptions, the last match wins.
#include "daemon/build/dockerignore.h"

#include <gtest/gtest.h>

namespace vessel::daemon::build {
namespace {

TEST(DockerIgnore, PatternsAsDockerMatchesThem) {
  auto ignore = DockerIgnore::parse("# a comment\n\n/node_modules\n*.log\n**/*.tmp\ndocs/**/draft?\nsecret*\n!secret-ok\n  build/  \n");
  EXPECT_TRUE(ignore.excluded("node_modules"));
  EXPECT_TRUE(ignore.excluded("node_modules/x/y.js"));  // under an excluded directory
  EXPECT_TRUE(ignore.excluded("app.log"));
  EXPECT_FALSE(ignore.excluded("logs/app.log"));  // '*' is one component, as Go's filepath.Match
  EXPECT_TRUE(ignore.excluded("a.tmp"));
  EXPECT_TRUE(ignore.excluded("deep/er/a.tmp"));
  EXPECT_TRUE(ignore.excluded("docs/draft1"));
  EXPECT_TRUE(ignore.excluded("docs/x/y/draft2"));
  EXPECT_FALSE(ignore.excluded("docs/final"));
  EXPECT_TRUE(ignore.excluded("secret.key"));
  EXPECT_FALSE(ignore.excluded("secret-ok"));  // the later '!' wins
  EXPECT_TRUE(ignore.excluded("build/out.o"));
  EXPECT_FALSE(ignore.excluded("src/main.cc"));
  EXPECT_FALSE(ignore.excluded("# a comment"));
  EXPECT_TRUE(ignore.has_exceptions());
}

TEST(DockerIgnore, CleanedPathsAndEmptyFiles) {
  auto ignore = DockerIgnore::parse("./a/../b\n");
  EXPECT_TRUE(ignore.excluded("b"));
  EXPECT_FALSE(ignore.excluded("a"));
  EXPECT_TRUE(DockerIgnore::parse("# only comments\n").empty());
  EXPECT_FALSE(DockerIgnore::parse("").excluded("anything"));
}

TEST(DockerIgnore, ManyDoubleStarsStayFast) {
  std::string pattern, path;
  for (int i = 0; i < 60; ++i) pattern += "**/a/";
  pattern += "b";
  for (int i = 0; i < 200; ++i) path += "a/";
  path += "c";
  auto ignore = DockerIgnore::parse(pattern);
  EXPECT_FALSE(ignore.excluded(path));  // polynomial: would never end by backtracking
}

}  // namespace
}  // namespace vessel::daemon::build
