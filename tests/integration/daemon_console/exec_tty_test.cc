// exec into containers through the framed Upgrade stream: pipes (stdout and stderr apart, stdin
// with -i, exit status) and a pty with -t (tty says /dev/pts/N, the window size follows the
// caller's terminal, including a resize while it runs).
#include "console_helpers.h"

namespace vessel::test {
namespace {

class Exec : public ContainerDaemon {
 protected:
  void SetUp() override {
    ContainerDaemon::SetUp();
    auto r = daemon.vessel({"run", "--name", "box", "--rootfs", rootfs, "--", "/bin/sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  }
};

TEST_F(Exec, PipesKeepStdoutAndStderrApartAndReturnTheStatus) {
  auto r = daemon.vessel({"exec", "box", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  // Without -t there is no terminal.
  auto t = daemon.vessel({"exec", "box", "--", "/bin/sh", "-c", "tty; true"});
  EXPECT_EQ(t.out, "not a tty\n");
}

TEST_F(Exec, InteractiveSendsStdinUntilItsEnd) {
  auto r = vessel_with_input(daemon, "line one\nline two\n", {"exec", "-i", "box", "--", "/bin/sh", "-c", "wc -l; cat /dev/null"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "2\n");
  // Without -i the command sees end-of-file at once.
  auto closed = vessel_with_input(daemon, "ignored\n", {"exec", "box", "--", "/bin/cat"});
  EXPECT_EQ(closed.status, 0);
  EXPECT_EQ(closed.out, "");
}

TEST_F(Exec, TtyGivesAPtyWithTheCallersWindowSize) {
  auto r = vessel_on_pty(daemon, {}, {"exec", "-it", "box", "--", "/bin/sh", "-c", "tty; stty size; exit 4"},
                         {"--rows", "33", "--cols", "101"});
  EXPECT_EQ(r.status, 4) << r.out << r.err;
  EXPECT_NE(r.out.find("/dev/pts/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("33 101"), std::string::npos) << r.out;
}

TEST_F(Exec, TtyShellTakesKeysAndFollowsAResize) {
  auto r = vessel_on_pty(daemon,
                         {"expect:# ", "send:echo $((6*7))\\r", "expect:42", "resize:40x120", "sleep:0.5",
                          "send:stty size\\r", "expect:40 120", "send:exit 6\\r"},
                         {"exec", "-it", "box", "--", "/bin/sh"});
  EXPECT_EQ(r.status, 6) << r.out << r.err;
}

TEST_F(Exec, ErrorsAreClear) {
  auto missing = daemon.vessel({"exec", "-it", "box", "--", "/no/such/program"});
  EXPECT_NE(missing.status, 0);
  EXPECT_FALSE(missing.err.empty());
  ASSERT_EQ(daemon.vessel({"stop", "-f", "box"}).status, 0);
  auto stopped = daemon.vessel({"exec", "box", "--", "/bin/true"});
  EXPECT_EQ(stopped.status, 1);
  EXPECT_NE(stopped.err.find("instance is stopped"), std::string::npos) << stopped.err;
}

}  // namespace
}  // namespace vessel::test
