// SIGKILL vesseld mid-way: guests keep running, the next vesseld adopts them, notices the ones
// that died meanwhile, and refuses to adopt a PID that now belongs to another process.
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

TEST(RestartAdoption, SigkilledDaemonLeavesGuestsRunningAndAdoptsThem) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  std::vector<std::string> loop{"--", "/bin/sh", "-c", "while true; do sleep 0.1; done"};
  pid_t survivor = 0, victim = 0, paused = 0;
  {
    Daemon first(tmp.path);
    ASSERT_TRUE(first.start()) << first.log();
    for (const char* name : {"survivor", "victim", "frozen"}) {
      std::vector<std::string> args{"run", "--name", name, "--rootfs", tmp.path + "/rootfs"};
      args.insert(args.end(), loop.begin(), loop.end());
      ASSERT_EQ(first.vessel(args).status, 0) << first.log();
    }
    ASSERT_EQ(first.vessel({"pause", "frozen"}).status, 0);
    survivor = first.vessel_json({"inspect", "survivor"}).value("pid", 0);
    victim = first.vessel_json({"inspect", "victim"}).value("pid", 0);
    paused = first.vessel_json({"inspect", "frozen"}).value("pid", 0);
    auto status = first.stop(SIGKILL);
    EXPECT_EQ(status.signal, SIGKILL);
    // The first Daemon's destructor has nothing left to clean: it is dead.
  }
  ASSERT_TRUE(alive(survivor));
  ASSERT_TRUE(alive(victim));
  ASSERT_TRUE(alive(paused));
  ::kill(victim, SIGKILL);  // dies while no vesseld watches
  ASSERT_TRUE(eventually([&] { return !alive(victim); }));

  Daemon second(tmp.path);
  ASSERT_TRUE(second.start()) << second.log();
  auto s = second.vessel_json({"inspect", "survivor"});
  EXPECT_EQ(s.value("state", ""), "running");
  EXPECT_EQ(s.value("pid", 0), survivor);
  EXPECT_EQ(state_of(second, "victim"), "stopped");
  EXPECT_EQ(state_of(second, "frozen"), "paused");
  EXPECT_NE(second.log().find("adopted container survivor"), std::string::npos) << second.log();

  // The adopted guests are fully managed: resume, exec, exit detection, stop.
  ASSERT_EQ(second.vessel({"resume", "frozen"}).status, 0) << second.log();
  auto exec = second.vessel({"exec", "survivor", "--", "/bin/echo", "still here"});
  EXPECT_EQ(exec.out, "still here\n");
  ::kill(paused, SIGKILL);
  EXPECT_TRUE(eventually([&] { return state_of(second, "frozen") == "stopped"; }));
  ASSERT_EQ(second.vessel({"stop", "-t", "1", "survivor"}).status, 0);
  EXPECT_FALSE(alive(survivor));
  EXPECT_EQ(second.vessel({"start", "victim"}).status, 0);
  EXPECT_EQ(state_of(second, "victim"), "running");
}

TEST(RestartAdoption, ReusedPidIsNotAdopted) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  pid_t pid = 0;
  {
    Daemon first(tmp.path);
    ASSERT_TRUE(first.start()) << first.log();
    ASSERT_EQ(first.vessel({"run", "--name", "c", "--rootfs", tmp.path + "/rootfs", "--", "/bin/sleep", "1000"}).status, 0);
    pid = first.vessel_json({"inspect", "c"}).value("pid", 0);
    first.stop(SIGKILL);
  }
  // Pretend the guest died and its PID went to another process: the stored start time no
  // longer matches what /proc says about that PID.
  sqlite3* db;
  ASSERT_EQ(sqlite3_open((tmp.path + "/state/vessel.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE instances SET pid_start = pid_start + 12345", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  Daemon second(tmp.path);
  ASSERT_TRUE(second.start()) << second.log();
  EXPECT_EQ(state_of(second, "c"), "stopped");
  EXPECT_EQ(second.log().find("adopted"), std::string::npos);
  // vesseld never signalled that PID itself; the runtime's cleanup removed the container.
  EXPECT_TRUE(eventually([&] { return !alive(pid); }));
}

// A second vesseld given the live daemon's --socket (and its own state directory) refuses to
// start; before, it unlinked the live socket and served on it, leaving the first unreachable.
TEST(RestartAdoption, ASecondDaemonOnALiveSocketIsRefused) {
  TempDir tmp;
  Daemon first(tmp.path);
  ASSERT_TRUE(first.start()) << first.log();
  auto second = run({vesseld_path(), "--socket", first.socket(), "--state-dir", tmp.path + "/other-state"},
                    std::chrono::seconds(30));
  EXPECT_EQ(second.status, 1) << second.out << second.err;
  EXPECT_NE(second.err.find("is in use"), std::string::npos) << second.err;
  EXPECT_EQ(first.vessel({"ls"}).status, 0) << "the first daemon must still answer on its socket";
}

// The API socket is for root and the socket group only (0660), and the state directory (the
// database, rootfs trees, disks) for root only, even when it existed with a wider mode.
TEST(DaemonFiles, TheSocketIsForItsGroupAndTheStateDirectoryForRoot) {
  TempDir tmp;
  group* g = ::getgrnam("daemon");  // in every Debian's base-passwd
  ASSERT_NE(g, nullptr);
  gid_t gid = g->gr_gid;
  std::filesystem::create_directories(tmp.path + "/state");
  ASSERT_EQ(::chmod((tmp.path + "/state").c_str(), 0755), 0);
  Daemon d(tmp.path, {"--socket-group", "daemon"});
  ASSERT_TRUE(d.start()) << d.log();
  struct stat sock {}, state {};
  ASSERT_EQ(::stat(d.socket().c_str(), &sock), 0);
  EXPECT_TRUE(S_ISSOCK(sock.st_mode));
  EXPECT_EQ(sock.st_mode & 07777, 0660u) << std::oct << (sock.st_mode & 07777);
  EXPECT_EQ(sock.st_gid, gid);
  ASSERT_EQ(::stat(d.state_dir().c_str(), &state), 0);
  EXPECT_EQ(state.st_mode & 07777, 0700u) << std::oct << (state.st_mode & 07777);
}

// Two daemons on one state directory would corrupt each other's instances: the second one (on its
// own socket) refuses to start and says why, and the first keeps serving.
TEST(DaemonFiles, OneDaemonPerStateDirectory) {
  TempDir tmp;
  Daemon first(tmp.path);
  ASSERT_TRUE(first.start()) << first.log();
  auto second = run({vesseld_path(), "--socket", tmp.path + "/second.sock", "--state-dir", first.state_dir()},
                    std::chrono::seconds(30));
  EXPECT_EQ(second.status, 1) << second.out << second.err;
  EXPECT_NE(second.err.find("another vesseld is using " + first.state_dir()), std::string::npos) << second.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/second.sock"));
  EXPECT_EQ(first.vessel({"ls"}).status, 0);
}

// A vesseld killed while it fetched an image from a peer (docs/cluster.md#images) left its
// download beside the image store: the next vesseld on that state directory removes it, even
// when its PID is alive now (here: the test's own), and nothing else.
TEST(DaemonFiles, AFetchCutShortIsRemovedAtStart) {
  TempDir tmp;
  Daemon d(tmp.path);
  std::string images = d.state_dir() + "/images";
  std::filesystem::create_directories(images);
  std::string left = images + "/.fetch-" + std::to_string(::getpid()) + ".tar";
  std::ofstream(left) << "the first bytes of a docker-archive";
  std::ofstream(images + "/notes.txt") << "not a fetch";
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_FALSE(std::filesystem::exists(left)) << d.log();
  EXPECT_TRUE(std::filesystem::exists(images + "/notes.txt"));
  EXPECT_NE(d.log().find("left by a fetch cut short"), std::string::npos) << d.log();
}

}  // namespace
}  // namespace vessel::test
