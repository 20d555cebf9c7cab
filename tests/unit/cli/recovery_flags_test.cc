#include "cli/recovery_flags.h"

#include <gtest/gtest.h>

namespace vessel::cli {
namespace {

TEST(RecoveryFlags, DurationsAsDockerWritesThem) {
  EXPECT_EQ(parse_duration_ms("30s").value(), 30000u);
  EXPECT_EQ(parse_duration_ms("1m30s").value(), 90000u);
  EXPECT_EQ(parse_duration_ms("500ms").value(), 500u);
  EXPECT_EQ(parse_duration_ms("1h").value(), 3600000u);
  EXPECT_EQ(parse_duration_ms("1.5s").value(), 1500u);
  EXPECT_EQ(parse_duration_ms("2").value(), 2000u);
  for (const char* bad : {"", "s", "1x", "-1s", "1s2", "1e999s", "ms"}) EXPECT_FALSE(parse_duration_ms(bad)) << bad;
}

TEST(RecoveryFlags, HealthCmdBecomesAShellCheck) {
  RecoveryFlags f;
  f.restart = "on-failure:3";
  f.health_cmd = "test -f /tmp/ok";
  f.health_interval = "500ms";
  f.health_retries = 2;
  json::Json spec = json::Json::object();
  ASSERT_TRUE(apply_recovery_flags(f, spec));
  EXPECT_EQ(spec["restart"], "on-failure:3");
  EXPECT_EQ(spec["healthcheck"]["test"], json::Json({"/bin/sh", "-c", "test -f /tmp/ok"}));
  EXPECT_EQ(spec["healthcheck"]["interval_ms"], 500);
  EXPECT_EQ(spec["healthcheck"]["retries"], 2);
  EXPECT_FALSE(spec["healthcheck"].contains("timeout_ms")) << "vesseld's default (30s)";
}

TEST(RecoveryFlags, RefusesConflictsAndOrphanTuning) {
  json::Json spec = json::Json::object();
  RecoveryFlags none;
  ASSERT_TRUE(apply_recovery_flags(none, spec));
  EXPECT_TRUE(spec.empty());
  RecoveryFlags orphan;
  orphan.health_interval = "5s";
  EXPECT_FALSE(apply_recovery_flags(orphan, spec));
  RecoveryFlags both;
  both.no_healthcheck = true;
  both.health_cmd = "true";
  EXPECT_FALSE(apply_recovery_flags(both, spec));
  RecoveryFlags off;
  off.no_healthcheck = true;
  ASSERT_TRUE(apply_recovery_flags(off, spec));
  EXPECT_EQ(spec["no_healthcheck"], true);
  RecoveryFlags bad;
  bad.health_cmd = "true";
  bad.health_timeout = "soon";
  EXPECT_FALSE(apply_recovery_flags(bad, spec));
}

}  // namespace
}  // namespace vessel::cli

#include "cli/format.h"
#include "cli/instance_list.h"

namespace vessel::cli {
namespace {

TEST(RecoveryFlags, LsShowsHealthAndPendingRestarts) {
  json::Json list = json::Json::array();
  list.push_back({{"name", "web"}, {"type", "container"}, {"state", "running"}, {"started_at", 100},
                  {"health", {{"status", "healthy"}}}});
  list.push_back({{"name", "job"}, {"type", "container"}, {"state", "stopped"}, {"restart_pending", true},
                  {"exit_code", 1}, {"finished_at", 108}});
  list.push_back({{"name", "idle"}, {"type", "container"}, {"state", "stopped"}, {"exit_code", 0}, {"finished_at", 100}});
  auto t = instances_table(list, 110);
  EXPECT_NE(t.find("Up 10 seconds (healthy)"), std::string::npos) << t;
  EXPECT_NE(t.find("Restarting (1) 2 seconds ago"), std::string::npos) << t;
  EXPECT_NE(t.find("Exited (0) 10 seconds ago\n"), std::string::npos) << t;
}

}  // namespace
}  // namespace vessel::cli
