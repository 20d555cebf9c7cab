// A container through the whole lifecycle, CLI -> vesseld -> OCI runtime -> kernel.
#include <thread>

#include "http/http.h"
#include "daemon_fixture.h"

namespace vessel::test {
namespace {

json::Json find(const json::Json& list, const std::string& name) {
  for (const auto& i : list)
    if (i.value("name", "") == name) return i;
  return nullptr;
}

class ContainerLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path};
};

TEST_F(ContainerLifecycle, RunListLogsExecPauseStopStartRestartDelete) {
  // The guest traps SIGTERM so that a graceful stop is observable.
  auto r = daemon.vessel({"run", "--name", "web", "--rootfs", rootfs, "-e", "GREETING=hello", "--memory", "64M", "--",
                          "/bin/sh", "-c", "trap 'echo bye; exit 0' TERM; echo $GREETING from $(hostname); while true; do sleep 0.1; done"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  EXPECT_EQ(r.out, "web\n");

  auto list = daemon.vessel_json({"ls", "-a", "--json"});
  auto web = find(list, "web");
  ASSERT_TRUE(web.is_object()) << list.dump();
  EXPECT_EQ(web.value("state", ""), "running");
  EXPECT_EQ(web.value("type", ""), "container");
  EXPECT_EQ(web.value("memory_mib", 0), 64);
  pid_t pid = web.value("pid", 0);
  EXPECT_TRUE(alive(pid));

  EXPECT_TRUE(eventually([&] { return daemon.vessel({"logs", "web"}).out.find("hello from web") != std::string::npos; }))
      << daemon.vessel({"logs", "web"}).out;

  auto exec = daemon.vessel({"exec", "web", "--", "/bin/sh", "-c", "echo in-container $GREETING; exit 3"});
  EXPECT_EQ(exec.status, 3) << exec.err;
  EXPECT_EQ(exec.out, "in-container hello\n");
  // The root directory has the image's mode, not the 0700 of a directory vesseld made: a user
  // other than root can walk the tree.
  auto root_mode = daemon.vessel({"exec", "web", "--", "/bin/busybox", "stat", "-c", "%a", "/"});
  EXPECT_EQ(root_mode.out, "755\n") << root_mode.err;

  // The memory limit reached the cgroup.
  auto stats = daemon.vessel_json({"stats", "--no-stream", "--json", "web"});
  ASSERT_TRUE(stats.is_array() && stats.size() == 1) << stats.dump();
  EXPECT_EQ(stats[0].value("memory_limit_bytes", uint64_t{0}), 64ull << 20);
  EXPECT_GT(stats[0].value("memory_bytes", uint64_t{0}), 0u);

  ASSERT_EQ(daemon.vessel({"pause", "web"}).status, 0);
  EXPECT_EQ(state_of(daemon, "web"), "paused");
  // Illegal transitions: refused, with the current state.
  auto again = daemon.vessel({"pause", "web"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("cannot pause: instance is paused"), std::string::npos) << again.err;
  auto start = daemon.vessel({"start", "web"});
  EXPECT_EQ(start.status, 1);
  EXPECT_NE(start.err.find("resume it instead"), std::string::npos) << start.err;
  ASSERT_EQ(daemon.vessel({"resume", "web"}).status, 0);
  EXPECT_EQ(state_of(daemon, "web"), "running");

  auto rm = daemon.vessel({"rm", "web"});
  EXPECT_EQ(rm.status, 1);
  EXPECT_NE(rm.err.find("stop it first"), std::string::npos) << rm.err;

  ASSERT_EQ(daemon.vessel({"stop", "--timeout", "10", "web"}).status, 0);
  EXPECT_EQ(state_of(daemon, "web"), "stopped");
  EXPECT_FALSE(alive(pid));
  EXPECT_NE(daemon.vessel({"logs", "web"}).out.find("bye"), std::string::npos) << "graceful stop: SIGTERM first";

  ASSERT_EQ(daemon.vessel({"start", "web"}).status, 0);
  auto restarted = daemon.vessel_json({"inspect", "web"});
  EXPECT_EQ(restarted.value("state", ""), "running");
  pid_t pid2 = restarted.value("pid", 0);
  EXPECT_NE(pid2, pid);
  EXPECT_TRUE(alive(pid2));

  ASSERT_EQ(daemon.vessel({"restart", "web"}).status, 0);
  pid_t pid3 = daemon.vessel_json({"inspect", "web"}).value("pid", 0);
  EXPECT_NE(pid3, pid2);
  EXPECT_FALSE(alive(pid2));
  EXPECT_TRUE(alive(pid3));

  ASSERT_EQ(daemon.vessel({"rm", "--force", "web"}).status, 0);
  EXPECT_FALSE(alive(pid3));
  EXPECT_TRUE(daemon.vessel_json({"ls", "-a", "--json"}).empty());
  auto gone = daemon.vessel({"inspect", "web"});
  EXPECT_EQ(gone.status, 1);
  EXPECT_NE(gone.err.find("no instance named web"), std::string::npos);
}

TEST_F(ContainerLifecycle, ExitedGuestIsMarkedStoppedAndCanStartAgain) {
  ASSERT_EQ(daemon.vessel({"run", "--name", "once", "--rootfs", rootfs, "--", "/bin/echo", "done"}).status, 0);
  EXPECT_TRUE(eventually([&] { return state_of(daemon, "once") == "stopped"; })) << state_of(daemon, "once");
  EXPECT_EQ(daemon.vessel({"logs", "once"}).out, "done\n");
  ASSERT_EQ(daemon.vessel({"start", "once"}).status, 0);
  EXPECT_TRUE(eventually([&] { return state_of(daemon, "once") == "stopped"; }));
  EXPECT_EQ(daemon.vessel({"logs", "once"}).out, "done\ndone\n");
  // run --attach follows the output until the guest exits.
  auto attached = daemon.vessel({"run", "--attach", "--name", "att", "--rootfs", rootfs, "--", "/bin/sh", "-c", "echo one; sleep 0.3; echo two"});
  EXPECT_EQ(attached.status, 0) << attached.err;
  EXPECT_EQ(attached.out, "att\none\ntwo\n");
}

TEST_F(ContainerLifecycle, EventsAndMetrics) {
  std::string events;
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    http::ClientOptions o;
    o.unix_socket = daemon.socket();
    (void)http::request_stream(o, "GET", "http://localhost/v1/events", [&](std::string_view d) {
      events.append(d);
      return !stop.load();
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(daemon.vessel({"run", "--name", "ev", "--rootfs", rootfs, "--", "/bin/sleep", "100"}).status, 0);
  ASSERT_EQ(daemon.vessel({"pause", "ev"}).status, 0);
  ASSERT_EQ(daemon.vessel({"rm", "-f", "ev"}).status, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  stop = true;
  watcher.join();
  std::vector<std::string> seen;
  size_t pos = 0;
  while (pos < events.size()) {
    size_t nl = events.find('\n', pos);
    if (nl == std::string::npos) break;
    auto j = json::parse(std::string_view(events).substr(pos, nl - pos));
    pos = nl + 1;
    if (j && j->is_object() && j->value("name", "") == "ev")
      seen.push_back(j->value("type", "") + ":" + j->value("state", ""));
  }
  std::vector<std::string> expected{"instance-created:created", "instance-state:running", "instance-state:paused",
                                    "instance-state:stopped", "instance-deleted:"};
  EXPECT_EQ(seen, expected) << events;

  http::ClientOptions o;
  o.unix_socket = daemon.socket();
  auto m = http::request(o, "GET", "http://localhost/metrics");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("vessel_api_requests_total{route=\"POST /v1/instances\",status=\"201\"} 1"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("vessel_api_request_seconds_count{route=\"POST /v1/instances/{name}/pause\"} 1"), std::string::npos);
  EXPECT_NE(m->body.find("vessel_instances 0"), std::string::npos);
}

}  // namespace
}  // namespace vessel::test
