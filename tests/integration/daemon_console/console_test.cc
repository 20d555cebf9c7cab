// The interactive VM console: `vessel console` -> vesseld (HTTP Upgrade) -> vessel-vmm's console
// socket -> the guest's UART, with the serial_echo test guest (echoes input upper-cased, ends
// with status 5 on '.'). Driven through a pipe and through a pty (raw mode, Ctrl-] detach), and
// again after vesseld was SIGKILLed and restarted.
#include <signal.h>

#include "http/http.h"
#include "console_helpers.h"

namespace vessel::test {
namespace {

using Console = VmDaemon;

void run_echo_vm(const Daemon& d, const std::string& name) {
  auto r = d.vessel({"run", "--vm", "--name", name, "--kernel", guest("serial_echo"), "--memory", "32M"});
  ASSERT_EQ(r.status, 0) << r.err << d.log();
  ASSERT_TRUE(eventually([&] { return d.vessel({"logs", name}).out.find("echo ready") != std::string::npos; }))
      << d.vessel({"logs", name}).out;
}

TEST_F(Console, PipedInputReachesTheGuestAndItsEchoComesBack) {
  run_echo_vm(daemon, "echo");
  // The '.' ends the guest: the console closes when the VM does.
  auto r = vessel_with_input(daemon, "hello console.", {"console", "echo"});
  EXPECT_EQ(r.status, 0) << r.err << daemon.log();
  EXPECT_NE(r.out.find("HELLO CONSOLE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bye"), std::string::npos) << r.out;
  auto w = daemon.vessel({"wait", "echo"});
  EXPECT_EQ(w.status, 5) << w.err;
  // What went through the console is in the log as well.
  EXPECT_NE(daemon.vessel({"logs", "echo"}).out.find("HELLO CONSOLE"), std::string::npos);
}

TEST_F(Console, TerminalRawModeDetachAndReattachAfterVesseldRestart) {
  run_echo_vm(daemon, "tty");
  // Raw mode: keys go through one by one, Enter is '\r' (echoed as a newline by the guest).
  auto r = vessel_on_pty(daemon, {"expect:Ctrl-] to detach", "send:abc\\r", "expect:ABC", "send:\\x1d"}, {"console", "tty"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Detached from tty"), std::string::npos) << r.out;
  EXPECT_EQ(daemon.vessel_json({"inspect", "tty"}).value("state", ""), "running");

  // The console belongs to vessel-vmm: it works again after vesseld was killed and restarted.
  daemon.stop(SIGKILL);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto again = vessel_on_pty(daemon, {"expect:Ctrl-] to detach", "send:xyz", "expect:XYZ", "send:.", "expect:bye"}, {"console", "tty"});
  EXPECT_EQ(again.status, 0) << again.out << again.err;
  EXPECT_EQ(daemon.vessel({"wait", "tty"}).status, 5);
}

TEST_F(Console, RefusedWhenItCannotWork) {
  run_echo_vm(daemon, "vm");
  // Without an Upgrade the endpoint says how to use it.
  auto plain = http::request({daemon.socket(), std::chrono::seconds(5)}, "GET", "http://localhost/v1/instances/vm/console");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->status, 426);
  EXPECT_NE(plain->body.find("Upgrade"), std::string::npos);
  // No such instance; a stopped VM.
  auto missing = daemon.vessel({"console", "nope"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("no instance named nope"), std::string::npos) << missing.err;
  ASSERT_EQ(daemon.vessel({"stop", "-f", "vm"}).status, 0);
  auto stopped = daemon.vessel({"console", "vm"});
  EXPECT_EQ(stopped.status, 1);
  EXPECT_NE(stopped.err.find("instance is stopped"), std::string::npos) << stopped.err;
  // exec into a VM points to the console.
  ASSERT_EQ(daemon.vessel({"start", "vm"}).status, 0);
  auto exec = daemon.vessel({"exec", "-it", "vm", "--", "/bin/sh"});
  EXPECT_EQ(exec.status, 1);
  EXPECT_NE(exec.err.find("vessel console vm"), std::string::npos) << exec.err;
}

}  // namespace
}  // namespace vessel::test
