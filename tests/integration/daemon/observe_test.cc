// Observing instances as a Docker user would (issue 18): inspect's oom_killed, `vessel ls`'s
// statuses and filters, `vessel logs --tail/--since/-t`, `vessel stats --no-stream`.
#include <thread>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

class Observe : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  bool stopped(const std::string& name) {
    return eventually([&] { return state_of(daemon, name) == "stopped"; }, 600);
  }
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path};
};

TEST_F(Observe, AnOomKillIsReportedAndANormalExitIsNot) {
  // The shell holds 64 MiB of output in one variable: its RSS grows past the 16 MiB limit and
  // the kernel's OOM killer ends it (SIGKILL, 137).
  auto r = daemon.vessel({"run", "--name", "hog", "--rootfs", rootfs, "-m", "16M", "--", "/bin/sh", "-c",
                          "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  ASSERT_TRUE(stopped("hog")) << state_of(daemon, "hog");
  auto hog = daemon.vessel_json({"inspect", "hog"});
  EXPECT_EQ(hog.value("exit_code", -1), 137) << hog.dump();
  EXPECT_TRUE(hog.value("oom_killed", false)) << hog.dump() << daemon.vessel({"logs", "hog"}).out;
  EXPECT_GT(hog.value("finished_at", int64_t{0}), 0);

  ASSERT_EQ(daemon.vessel({"run", "--name", "calm", "--rootfs", rootfs, "-m", "16M", "--", "/bin/true"}).status, 0);
  ASSERT_TRUE(stopped("calm"));
  auto calm = daemon.vessel_json({"inspect", "calm"});
  EXPECT_EQ(calm.value("exit_code", -1), 0);
  ASSERT_TRUE(calm.contains("oom_killed")) << calm.dump();
  EXPECT_FALSE(calm.value("oom_killed", true));

  // A new run forgets the last one's OOM kill while it runs.
  ASSERT_EQ(daemon.vessel({"start", "hog"}).status, 0);
  auto again = daemon.vessel_json({"inspect", "hog"});
  if (again.value("state", "") == "running") {
    EXPECT_FALSE(again.value("oom_killed", true)) << again.dump();
  }
  ASSERT_TRUE(stopped("hog"));
  EXPECT_TRUE(daemon.vessel_json({"inspect", "hog"}).value("oom_killed", false));
}

TEST_F(Observe, LsListsRunningOnesUnlessAllAndFiltersAsDockersPs) {
  ASSERT_EQ(daemon.vessel({"run", "--name", "up", "--label", "team=a", "--rootfs", rootfs, "--", "/bin/sleep", "600"}).status, 0);
  ASSERT_EQ(daemon.vessel({"run", "--name", "done", "--rootfs", rootfs, "--", "/bin/true"}).status, 0);
  ASSERT_EQ(daemon.vessel({"create", "--name", "new", "--rootfs", rootfs, "--", "/bin/true"}).status, 0);
  ASSERT_TRUE(stopped("done"));

  EXPECT_EQ(daemon.vessel({"ls", "-q"}).out, "up\n");
  EXPECT_EQ(daemon.vessel({"ls", "-a", "-q"}).out, "done\nnew\nup\n");
  EXPECT_EQ(daemon.vessel({"ls", "--filter", "status=exited", "-q"}).out, "done\n") << "a status filter needs no -a";
  EXPECT_EQ(daemon.vessel({"ls", "-a", "--filter", "name=n", "--filter", "type=container", "-q"}).out, "done\nnew\n");
  auto labelled = daemon.vessel({"ls", "-a", "--filter", "label=team=a", "--format", "json"});
  ASSERT_EQ(labelled.status, 0) << labelled.err;
  auto line = json::parse(labelled.out);
  ASSERT_TRUE(line && line->is_object()) << labelled.out;
  EXPECT_EQ(line->value("name", ""), "up");
  EXPECT_GT(line->value("started_at", int64_t{0}), 0);

  auto table = daemon.vessel({"ls", "-a"}).out;
  EXPECT_EQ(table.rfind("NAME  TYPE       IMAGE", 0), 0u) << table;
  EXPECT_NE(table.find("Exited (0) "), std::string::npos) << table;
  EXPECT_NE(table.find(" ago "), std::string::npos) << table;
  EXPECT_NE(table.find("Up "), std::string::npos) << table;
  EXPECT_NE(table.find("Created"), std::string::npos) << table;

  auto bad = daemon.vessel({"ls", "--filter", "colour=red"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("name=, status="), std::string::npos) << bad.err;
  auto templ = daemon.vessel({"ls", "--format", "{{.Names}}"});
  EXPECT_EQ(templ.status, 1);
  EXPECT_NE(templ.err.find("Go templates"), std::string::npos) << templ.err;
  ASSERT_EQ(daemon.vessel({"rm", "-f", "up"}).status, 0);
}

// The stamp vessel-shim put before `line` in `logs -t` output ("" when there is none).
std::string stamp_of(const std::string& stamped, const std::string& line) {
  size_t at = stamped.find("Z " + line + "\n");
  return at == std::string::npos || at < 29 ? "" : stamped.substr(at - 29, 30);
}

TEST_F(Observe, LogsTailSinceUntilAndTimestamps) {
  ASSERT_EQ(daemon.vessel({"run", "--name", "talk", "--rootfs", rootfs, "--", "/bin/sh", "-c",
                           "echo one; echo two; sleep 1.2; echo three; echo four"}).status, 0);
  ASSERT_TRUE(stopped("talk"));
  EXPECT_EQ(daemon.vessel({"logs", "talk"}).out, "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(daemon.vessel({"logs", "--tail", "2", "talk"}).out, "three\nfour\n");
  EXPECT_EQ(daemon.vessel({"logs", "-n", "0", "talk"}).out, "");
  EXPECT_EQ(daemon.vessel({"logs", "--tail", "all", "talk"}).out, "one\ntwo\nthree\nfour\n");

  auto stamped = daemon.vessel({"logs", "-t", "talk"}).out;
  std::string two = stamp_of(stamped, "two"), three = stamp_of(stamped, "three");
  ASSERT_EQ(two.size(), 30u) << stamped;
  ASSERT_EQ(three.size(), 30u) << stamped;
  EXPECT_EQ(stamped.rfind(stamp_of(stamped, "one") + " one\n", 0), 0u) << stamped;
  EXPECT_LT(two, three) << "stamped as they arrived, 1.2 s apart";
  EXPECT_EQ(daemon.vessel({"logs", "--since", three, "talk"}).out, "three\nfour\n");
  EXPECT_EQ(daemon.vessel({"logs", "--until", two, "talk"}).out, "one\ntwo\n");
  EXPECT_EQ(daemon.vessel({"logs", "--since", "1h", "--tail", "1", "talk"}).out, "four\n");
  EXPECT_EQ(daemon.vessel({"logs", "--since", "2099-01-01T00:00:00Z", "talk"}).out, "");
  auto bad = daemon.vessel({"logs", "--since", "yesterday", "talk"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("--since yesterday: not a time"), std::string::npos) << bad.err;
  EXPECT_EQ(daemon.vessel({"logs", "--tail", "many", "talk"}).status, 1);
}

TEST_F(Observe, LogsFollowFromTheTail) {
  ASSERT_EQ(daemon.vessel({"run", "--name", "ticker", "--rootfs", rootfs, "--", "/bin/sh", "-c",
                           "for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.3; done"}).status, 0);
  ASSERT_TRUE(eventually([&] { return daemon.vessel({"logs", "ticker"}).out.find("tick 2\n") != std::string::npos; }));
  auto followed = daemon.vessel({"logs", "-f", "--tail", "1", "ticker"});
  EXPECT_EQ(followed.status, 0) << followed.err;
  EXPECT_EQ(followed.out.find("tick 1\n"), std::string::npos) << followed.out;
  EXPECT_EQ(followed.out.rfind("tick ", 0), 0u) << followed.out;
  EXPECT_NE(followed.out.find("tick 8\n"), std::string::npos) << "followed until it stopped: " << followed.out;
}

TEST_F(Observe, StatsNoStreamSamplesOnceAndTheStreamEndsWhenItsInstancesGo) {
  ASSERT_EQ(daemon.vessel({"run", "--name", "busy", "--rootfs", rootfs, "--", "/bin/sh", "-c", "while :; do :; done"}).status, 0);
  ASSERT_EQ(daemon.vessel({"run", "--name", "idle", "--rootfs", rootfs, "--", "/bin/sleep", "600"}).status, 0);
  auto once = daemon.vessel_json({"stats", "--no-stream", "--json", "busy", "idle"});
  ASSERT_TRUE(once.is_array() && once.size() == 2) << once.dump();
  EXPECT_EQ(once[0].value("name", ""), "busy");
  EXPECT_GT(once[0].value("cpu_percent", 0.0), 20.0) << once.dump();
  EXPECT_LT(once[1].value("cpu_percent", 100.0), 20.0) << once.dump();
  auto table = daemon.vessel({"stats", "--no-stream"});
  EXPECT_EQ(table.status, 0);
  EXPECT_EQ(table.out.rfind("NAME  STATE    CPU", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("\nidle  running"), std::string::npos) << "all running ones by default: " << table.out;
  ASSERT_EQ(daemon.vessel({"rm", "-f", "busy"}).status, 0);

  // Streamed: a JSON array a second until the one instance named is deleted.
  CliResult streamed;
  std::thread watcher([&] { streamed = daemon.vessel({"stats", "--json", "idle"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(2800));
  ASSERT_EQ(daemon.vessel({"rm", "-f", "idle"}).status, 0);
  watcher.join();
  EXPECT_EQ(streamed.status, 1) << "the instance went: " << streamed.err;
  EXPECT_NE(streamed.err.find("no instance named idle"), std::string::npos) << streamed.err;
  size_t samples = 0;
  for (size_t at = 0; at < streamed.out.size(); at = streamed.out.find('\n', at) + 1, ++samples) {
    auto line = json::parse(std::string_view(streamed.out).substr(at, streamed.out.find('\n', at) - at));
    ASSERT_TRUE(line && line->is_array() && line->size() == 1) << streamed.out;
  }
  EXPECT_GE(samples, 2u) << streamed.out;
}

TEST_F(Observe, EventsPrintsEventsWithoutHeartbeatLines) {
  // vesseld sends an empty line every 2 s of silence; 5 s of `vessel events` see two of them.
  CliResult events;
  std::thread watcher([&] {
    events = run({"timeout", "5", vessel_path(), "--socket", daemon.socket(), "events"}, std::chrono::seconds(30));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(daemon.vessel({"run", "--name", "blip", "--rootfs", rootfs, "--", "/bin/true"}).status, 0);
  watcher.join();
  EXPECT_EQ(events.status, 124) << "ended by timeout(1): " << events.err;
  EXPECT_NE(events.out.find("\"blip\""), std::string::npos) << events.out;
  EXPECT_EQ(events.out.find("\n\n"), std::string::npos) << events.out;
  EXPECT_NE(events.out.front(), '\n') << events.out;
  for (size_t at = 0; at < events.out.size(); at = events.out.find('\n', at) + 1) {
    auto line = json::parse(std::string_view(events.out).substr(at, events.out.find('\n', at) - at));
    EXPECT_TRUE(line && line->is_object()) << events.out;
  }
}

TEST_F(Observe, PausingWhatDoesNotRunSaysThereIsNothingToPause) {
  ASSERT_EQ(daemon.vessel({"create", "--name", "still", "--rootfs", rootfs, "--", "/bin/true"}).status, 0);
  auto paused = daemon.vessel({"pause", "still"});
  EXPECT_EQ(paused.status, 1);
  EXPECT_NE(paused.err.find("cannot pause: instance is created"), std::string::npos) << paused.err;
  EXPECT_NE(paused.err.find("nothing to pause"), std::string::npos) << paused.err;
  EXPECT_EQ(paused.err.find("start it first"), std::string::npos) << paused.err;
}

TEST_F(Observe, ErrnoTextOnlyWhereACallReportedIt) {
  // vesseld's own "no instance" says it all: no "No such file or directory" after it.
  auto missing = daemon.vessel({"inspect", "nosuch"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "vessel: error: no instance named nosuch (see `vessel ls`)\n");
  auto pause = daemon.vessel({"pause", "nosuch"});
  EXPECT_EQ(pause.err.find("No such file"), std::string::npos) << pause.err;
  // A failed open: the errno's text is the cause, and it is there once.
  auto import = daemon.vessel({"image", "import", tmp.path + "/none.tar", "--name", "x"});
  EXPECT_EQ(import.status, 1);
  size_t at = import.err.find("No such file or directory");
  EXPECT_NE(at, std::string::npos) << import.err;
  EXPECT_EQ(import.err.find("No such file or directory", at + 1), std::string::npos) << import.err;
}

}  // namespace
}  // namespace vessel::test
