// Health checks with a real vesseld and real containers (docs/daemon/health.md): the check runs
// through exec, `ls` and inspect show its verdict, and an unhealthy container is restarted when
// its restart policy says so (and only reported when it has none, as Docker does).
#include <fcntl.h>

#include <filesystem>
#include <fstream>

#include "base/fd.h"
#include "daemon_fixture.h"

namespace vessel::test {
namespace {

json::Json health_of(const Daemon& d, const std::string& name) {
  auto j = d.vessel_json({"inspect", name});
  return j.contains("health") ? j["health"] : json::Json::object();
}

std::vector<std::string> checked(const std::string& name, const std::string& rootfs, const std::string& policy) {
  return {"run", "--name", name, "--restart", policy, "--stop-timeout", "1", "--health-cmd", "test -f /tmp/ok",
          "--health-interval", "300ms", "--health-retries", "2", "--health-timeout", "5s", "--rootfs", rootfs,
          "--", "/bin/sh", "-c", ": > /tmp/ok; exec sleep 1000"};
}

TEST(HealthCheck, UnhealthyContainerIsRestartedByItsPolicy) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  Fd out(::open((tmp.path + "/events.jsonl").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  SpawnOptions o;
  o.stdout_fd = out.get();
  auto events = Process::spawn({vessel_path(), "--socket", d.socket(), "events"}, o);
  ASSERT_TRUE(events);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  auto r = d.vessel(checked("web", tmp.path + "/rootfs", "on-failure"));
  ASSERT_EQ(r.status, 0) << r.err << d.log();
  EXPECT_EQ(health_of(d, "web").value("status", ""), "starting");
  ASSERT_TRUE(eventually([&] { return health_of(d, "web").value("status", "") == "healthy"; })) << d.log();
  auto ls = d.vessel({"ls"});
  EXPECT_NE(ls.out.find(" (healthy)"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("Up "), std::string::npos) << ls.out;
  pid_t before = d.vessel_json({"inspect", "web"}).value("pid", 0);

  ASSERT_EQ(d.vessel({"exec", "web", "--", "/bin/busybox", "rm", "/tmp/ok"}).status, 0);
  ASSERT_TRUE(eventually([&] { return d.vessel_json({"inspect", "web"}).value("restart_count", 0) == 1; })) << d.log();
  ASSERT_TRUE(eventually([&] { return health_of(d, "web").value("status", "") == "healthy"; }))
      << "the restarted container's command makes /tmp/ok again\n" << d.log();
  auto after = d.vessel_json({"inspect", "web"});
  EXPECT_EQ(after.value("state", ""), "running");
  EXPECT_NE(after.value("pid", 0), before);

  // The events: healthy, unhealthy (after 2 failures), the restart, healthy again.
  std::ifstream in(tmp.path + "/events.jsonl");
  std::string line, seen;
  while (std::getline(in, line)) {
    auto e = json::parse(line);
    if (!e || e->value("name", "") != "web") continue;
    std::string type = e->value("type", "");
    if (type == "instance-health") seen += e->value("status", "") + " ";
    if (type == "instance-restart-backoff") seen += "backoff(" + e->value("reason", "") + ") ";
    if (type == "instance-restart") seen += "restart ";
  }
  EXPECT_NE(seen.find("healthy unhealthy backoff(unhealthy: restart policy on-failure) restart healthy"), std::string::npos) << seen;
}

TEST(HealthCheck, WithoutARestartPolicyUnhealthyIsOnlyReported) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_EQ(d.vessel(checked("web", tmp.path + "/rootfs", "no")).status, 0) << d.log();
  ASSERT_TRUE(eventually([&] { return health_of(d, "web").value("status", "") == "healthy"; })) << d.log();
  ASSERT_EQ(d.vessel({"exec", "web", "--", "/bin/busybox", "rm", "/tmp/ok"}).status, 0);
  ASSERT_TRUE(eventually([&] { return health_of(d, "web").value("status", "") == "unhealthy"; })) << d.log();
  auto h = health_of(d, "web");
  EXPECT_GE(h.value("failing_streak", 0), 2);
  ASSERT_TRUE(h.contains("log"));
  EXPECT_LE(h["log"].size(), 5u);
  EXPECT_EQ(h["log"].back().value("exit_code", 0), 1);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto j = d.vessel_json({"inspect", "web"});
  EXPECT_EQ(j.value("state", ""), "running");
  EXPECT_EQ(j.value("restart_count", -1), 0);
  EXPECT_NE(d.vessel({"ls"}).out.find(" (unhealthy)"), std::string::npos);
  // A stop ends the checks; --no-healthcheck and a check's timeout are honoured.
  ASSERT_EQ(d.vessel({"stop", "web"}).status, 0);
  EXPECT_FALSE(d.vessel_json({"inspect", "web"}).contains("health"));
  ASSERT_EQ(d.vessel({"run", "--name", "slow", "--health-cmd", "sleep 5", "--health-interval", "200ms", "--health-timeout",
                      "300ms", "--health-retries", "1", "--rootfs", tmp.path + "/rootfs", "--", "/bin/sleep", "1000"})
                .status,
            0);
  ASSERT_TRUE(eventually([&] { return health_of(d, "slow").value("status", "") == "unhealthy"; })) << d.log();
  EXPECT_NE(health_of(d, "slow")["log"].back().value("output", "").find("timeout"), std::string::npos);
  auto off = d.vessel({"run", "--name", "off", "--no-healthcheck", "--rootfs", tmp.path + "/rootfs", "--", "/bin/sleep", "1000"});
  ASSERT_EQ(off.status, 0) << off.err;
  EXPECT_FALSE(d.vessel_json({"inspect", "off"}).contains("health"));
}

// An image's HEALTHCHECK (a hand-made docker-archive whose config has one) is used unless the
// run gives its own check or --no-healthcheck.
TEST(HealthCheck, TheImagesHealthcheckIsUsedUnlessTheRunSaysOtherwise) {
  TempDir tmp;
  std::string archive = make_busybox_image_archive(tmp.path + "/hc", R"({"Cmd":["/bin/sh","-c",": > /tmp/ok; exec sleep 1000"],)"
                                                                     R"("Healthcheck":{"Test":["CMD-SHELL","test -f /tmp/ok"],"Interval":300000000,"Retries":2}})");

  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  auto imported = d.vessel({"image", "import", "-q", archive, "--name", "hc"});
  ASSERT_EQ(imported.status, 0) << imported.err << d.log();
  ASSERT_EQ(d.vessel({"run", "--name", "dflt", "--stop-timeout", "1", "hc"}).status, 0) << d.log();
  ASSERT_EQ(d.vessel({"run", "--name", "off", "--stop-timeout", "1", "--no-healthcheck", "hc"}).status, 0);
  ASSERT_EQ(d.vessel({"run", "--name", "own", "--stop-timeout", "1", "--health-cmd", "exit 1", "--health-interval", "200ms",
                      "--health-retries", "1", "hc"}).status,
            0);
  ASSERT_TRUE(eventually([&] { return health_of(d, "dflt").value("status", "") == "healthy"; })) << d.log();
  ASSERT_TRUE(eventually([&] { return health_of(d, "own").value("status", "") == "unhealthy"; })) << d.log();
  EXPECT_FALSE(d.vessel_json({"inspect", "off"}).contains("health"));
  ASSERT_EQ(d.vessel({"exec", "dflt", "--", "/bin/busybox", "rm", "/tmp/ok"}).status, 0);
  ASSERT_TRUE(eventually([&] { return health_of(d, "dflt").value("status", "") == "unhealthy"; })) << d.log();
}

}  // namespace
}  // namespace vessel::test
