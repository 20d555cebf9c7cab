#include "base/process.h"

#include <signal.h>

#include <gtest/gtest.h>

namespace vessel {
namespace {

using namespace std::chrono_literals;

TEST(Process, CapturesOutputAndExitCode) {
  auto r = run_capture({"sh", "-c", "echo hi; exit 3"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "hi\n");
  EXPECT_EQ(r->status.code, 3);
  EXPECT_FALSE(r->status.success());
}

TEST(Process, MissingProgramIsAnError) {
  auto r = Process::spawn({"/nonexistent/program"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ENOENT);
}

TEST(Process, WaitForTimesOutThenSignalKills) {
  auto p = Process::spawn({"sleep", "30"});
  ASSERT_TRUE(p);
  auto early = p->wait_for(50ms);
  ASSERT_TRUE(early);
  EXPECT_FALSE(early->has_value());
  ASSERT_TRUE(p->signal(SIGTERM));
  auto st = p->wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->signal, SIGTERM);
  EXPECT_FALSE(p->signal(SIGTERM));  // already reaped: refused, never a reused PID
}

TEST(Process, DestructorKillsARunningChild) {
  pid_t pid;
  {
    auto p = Process::spawn({"sleep", "30"});
    ASSERT_TRUE(p);
    pid = p->pid();
  }
  EXPECT_EQ(kill(pid, 0), -1);
}

}  // namespace
}  // namespace vessel
