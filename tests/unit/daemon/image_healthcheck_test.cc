// An image's HEALTHCHECK (docs/daemon/health.md): Docker's config.Healthcheck into the spec's.
#include <gtest/gtest.h>

#include "daemon/images/image_healthcheck.h"
#include "daemon/images/image_manifest.h"

namespace vessel::daemon {
namespace {

std::optional<HealthcheckSpec> parse(const char* text) {
  auto j = json::parse(text).value();
  auto r = parse_image_healthcheck(j, "Healthcheck");
  EXPECT_TRUE(r) << text << ": " << r.error().to_string();
  return r ? *r : std::nullopt;
}

TEST(ImageHealthcheck, CmdShellCmdAndDurationsInNanoseconds) {
  auto h = parse(R"({"Test":["CMD-SHELL","test -f /tmp/ok"],"Interval":500000000,"Timeout":2000000000,"StartPeriod":0,"Retries":2})");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->test, (std::vector<std::string>{"/bin/sh", "-c", "test -f /tmp/ok"}));
  EXPECT_EQ(h->interval_ms, 500u);
  EXPECT_EQ(h->timeout_ms, 2000u);
  EXPECT_EQ(h->start_period_ms, 0u);
  EXPECT_EQ(h->retries, 2u);
  auto cmd = parse(R"({"Test":["CMD","/bin/check","--quick"]})");
  ASSERT_TRUE(cmd);
  EXPECT_EQ(cmd->test, (std::vector<std::string>{"/bin/check", "--quick"}));
  EXPECT_EQ(cmd->interval_ms, 30000u) << "0 or absent: Docker's defaults";
  EXPECT_EQ(cmd->retries, 3u);
  EXPECT_FALSE(parse(R"({"Test":["NONE"]})"));
  EXPECT_FALSE(parse(R"({"Test":[]})"));
  EXPECT_FALSE(parse(R"({})"));
}

TEST(ImageHealthcheck, RefusesMalformedOnes) {
  for (const char* bad : {R"({"Test":"CMD true"})", R"({"Test":["RUN","x"]})", R"({"Test":["CMD-SHELL"]})", R"({"Test":["CMD"]})",
                          R"({"Test":["CMD",1]})", R"({"Test":["CMD","x"],"Interval":-1})", R"({"Test":["CMD","x"],"Retries":"3"})",
                          R"([])"}) {
    auto j = json::parse(bad).value();
    EXPECT_FALSE(parse_image_healthcheck(j, "Healthcheck")) << bad;
  }
}

TEST(ImageHealthcheck, ImageConfigKeepsIt) {
  auto c = parse_image_config(R"({"config":{"Cmd":["/bin/sh"],"Healthcheck":{"Test":["CMD-SHELL","true"],"Retries":5}}})");
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_TRUE(c->healthcheck);
  EXPECT_EQ(c->healthcheck->retries, 5u);
  auto none = parse_image_config(R"({"config":{"Cmd":["/bin/sh"]}})");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->healthcheck);
  EXPECT_FALSE(parse_image_config(R"({"config":{"Healthcheck":{"Test":["BAD"]}}})"));
}

}  // namespace
}  // namespace vessel::daemon
