#include <gtest/gtest.h>
#include <stdlib.h>

#include "cli/env_file.h"

namespace vessel::cli {
namespace {

TEST(EnvFile, LinesAreTakenAsDockerTakesThem) {
  ::setenv("VESSEL_ENV_FILE_TEST", "from-shell", 1);
  ::unsetenv("VESSEL_ENV_FILE_UNSET");
  auto lines = parse_env_lines("# a comment\n\nA=1\n  B=two words \"kept\"\nC=\r\nVESSEL_ENV_FILE_TEST\nVESSEL_ENV_FILE_UNSET\nD=x=y",
                               BareKey::FromEnvironment, "f");
  ASSERT_TRUE(lines) << lines.error().to_string();
  EXPECT_EQ(*lines, (std::vector<std::string>{"A=1", "B=two words \"kept\"", "C=", "VESSEL_ENV_FILE_TEST=from-shell", "D=x=y"}));
  auto labels = parse_env_lines("tier\nteam=web\n", BareKey::Empty, "f");
  ASSERT_TRUE(labels);
  EXPECT_EQ(*labels, (std::vector<std::string>{"tier=", "team=web"}));
}

TEST(EnvFile, BadLinesAreRefusedWithTheirNumber) {
  auto bad = parse_env_lines("A=1\n=nokey\n", BareKey::Empty, "my.env");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().to_string().find("my.env line 2"), std::string::npos) << bad.error().to_string();
  EXPECT_FALSE(parse_env_lines("KEY WITH SPACE=1\n", BareKey::Empty, "f"));
  auto missing = read_env_file("/nonexistent/env", BareKey::Empty);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().to_string().find("/nonexistent/env"), std::string::npos);
  EXPECT_FALSE(read_env_file("/", BareKey::Empty));  // a directory is no env file
}

}  // namespace
}  // namespace vessel::cli
