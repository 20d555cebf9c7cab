// How guests end, recorded in the instance: VM exit statuses (debug port, panic, poweroff,
// reboot, forced stop), container exit statuses (exit, signal), `vessel run --wait`,
// `vessel wait`, events, and a container that exits while vesseld is down.
#include <signal.h>
#include <sys/mman.h>

#include "console_helpers.h"

namespace vessel::test {
namespace {

using VmExit = VmDaemon;
using ContainerExit = ContainerDaemon;

TEST_F(VmExit, RunWaitReturnsTheGuestsStatusAndInspectRecordsIt) {
  auto r = daemon.vessel({"run", "--vm", "--name", "e42", "--kernel", guest("exit_code"), "--memory", "32M", "--wait"});
  EXPECT_EQ(r.status, 42) << r.out << r.err << daemon.log();
  EXPECT_EQ(r.out, "e42\n");
  auto vm = daemon.vessel_json({"inspect", "e42"});
  EXPECT_EQ(vm.value("state", ""), "stopped");
  EXPECT_EQ(vm["exit_code"], 42);
  EXPECT_EQ(vm.value("exit_reason", ""), "debug-exit");
  // The listing carries it too, and `vessel wait` on a stopped instance answers at once.
  auto list = daemon.vessel_json({"ls", "-a", "--json"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["exit_code"], 42);
  auto w = daemon.vessel({"wait", "e42"});
  EXPECT_EQ(w.status, 42);
  EXPECT_EQ(w.out, "42\n");
}

TEST_F(VmExit, PanicPoweroffAndRebootAreTold) {
  struct Case {
    const char* guest;
    int code;
    const char* reason;
  };
  for (const Case& c : {Case{"panic", 3, "panic"}, Case{"acpi_poweroff", 0, "poweroff"}, Case{"reboot", 0, "reboot"}}) {
    auto r = daemon.vessel({"run", "--vm", "--name", c.guest, "--kernel", guest(c.guest), "--memory", "32M", "--wait"});
    EXPECT_EQ(r.status, c.code) << c.guest << ": " << r.err << daemon.log();
    auto waited = daemon.vessel({"wait", "--json", c.guest});
    EXPECT_EQ(waited.status, c.code) << c.guest;
    auto w = json::parse(waited.out).value_or(json::Json::object());
    EXPECT_EQ(w["exit_code"], c.code) << c.guest << ": " << waited.out;
    EXPECT_EQ(w.value("exit_reason", ""), c.reason) << c.guest;
  }
}

TEST_F(VmExit, WaitFollowsARunningVmAndAForcedStopIsKilled) {
  // A guest that counts for a while: `vessel wait` blocks until it ends on its own.
  ASSERT_EQ(daemon.vessel({"run", "--vm", "--name", "cnt", "--kernel", guest("counter"), "--cmdline", "count=3", "--memory", "32M"}).status, 0)
      << daemon.log();
  auto w = daemon.vessel({"wait", "cnt"});
  EXPECT_EQ(w.status, 0) << w.err;
  EXPECT_EQ(w.out, "0\n");
  EXPECT_NE(daemon.vessel({"logs", "cnt"}).out.find("done 3"), std::string::npos);

  // A start forgets the last exit; a forced stop is a SIGKILL of vessel-vmm: 137, "killed".
  ASSERT_EQ(daemon.vessel({"run", "--vm", "--name", "long", "--kernel", guest("counter"), "--cmdline", "count=100000000", "--memory", "32M"}).status, 0);
  auto running = daemon.vessel_json({"inspect", "long"});
  EXPECT_TRUE(running["exit_code"].is_null());
  ASSERT_EQ(daemon.vessel({"stop", "-f", "long"}).status, 0) << daemon.log();
  auto stopped = daemon.vessel_json({"inspect", "long"});
  EXPECT_EQ(stopped["exit_code"], 137);
  EXPECT_EQ(stopped.value("exit_reason", ""), "killed");
}

TEST_F(ContainerExit, ExitStatusSignalAndEvents) {
  // `vessel events` in the background sees the exit in the instance-state event.
  Fd events_out(::memfd_create("events", MFD_CLOEXEC));
  SpawnOptions o;
  o.stdout_fd = events_out.get();
  auto events = Process::spawn({vessel_path(), "--socket", daemon.socket(), "events"}, o);
  ASSERT_TRUE(events.has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = daemon.vessel({"run", "--name", "seven", "--rootfs", rootfs, "--wait", "--", "/bin/sh", "-c", "echo bye; exit 7"});
  EXPECT_EQ(r.status, 7) << r.err << daemon.log();
  auto c = daemon.vessel_json({"inspect", "seven"});
  EXPECT_EQ(c.value("state", ""), "stopped");
  EXPECT_EQ(c["exit_code"], 7);
  EXPECT_EQ(c.value("exit_reason", ""), "exited");

  ASSERT_TRUE(eventually([&] {
    auto text = read_file(fmt::format("/proc/self/fd/{}", events_out.get()));
    return text && text->find("\"exit_code\":7") != std::string::npos && text->find("\"exit_reason\":\"exited\"") != std::string::npos;
  })) << read_file(fmt::format("/proc/self/fd/{}", events_out.get())).value_or("");
  (void)events->signal(SIGTERM);
  (void)events->wait();

  // --attach prints the output and exits with the status too.
  auto a = daemon.vessel({"run", "--name", "att", "--rootfs", rootfs, "--attach", "--", "/bin/sh", "-c", "echo attached; exit 4"});
  EXPECT_EQ(a.status, 4) << a.err;
  EXPECT_NE(a.out.find("attached"), std::string::npos) << a.out;

  // The container's process is PID 1 of its namespace: SIGTERM does nothing to a `sleep` there,
  // so the stop is forced after the timeout: 137, "killed". One that traps SIGTERM exits its way.
  ASSERT_EQ(daemon.vessel({"run", "--name", "sleeper", "--rootfs", rootfs, "--", "/bin/sleep", "1000"}).status, 0);
  ASSERT_EQ(daemon.vessel({"stop", "-t", "1", "sleeper"}).status, 0) << daemon.log();
  auto s = daemon.vessel_json({"inspect", "sleeper"});
  EXPECT_EQ(s["exit_code"], 137);
  EXPECT_EQ(s.value("exit_reason", ""), "killed");
  ASSERT_EQ(daemon.vessel({"run", "--name", "trapper", "--rootfs", rootfs, "--", "/bin/sh", "-c",
                           "trap 'exit 12' TERM; while true; do sleep 0.1; done"}).status, 0);
  ASSERT_EQ(daemon.vessel({"stop", "-t", "10", "trapper"}).status, 0) << daemon.log();
  auto t = daemon.vessel_json({"inspect", "trapper"});
  EXPECT_EQ(t["exit_code"], 12);
  EXPECT_EQ(t.value("exit_reason", ""), "exited");
}

TEST_F(ContainerExit, ExitWhileVesseldIsDownIsKnownAfterItsRestart) {
  ASSERT_EQ(daemon.vessel({"run", "--name", "late", "--rootfs", rootfs, "--", "/bin/sh", "-c", "sleep 2; exit 9"}).status, 0)
      << daemon.log();
  pid_t pid = daemon.vessel_json({"inspect", "late"}).value("pid", 0);
  daemon.stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return !alive(pid); }, 200)) << "the container did not end";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto c = daemon.vessel_json({"inspect", "late"});
  EXPECT_EQ(c.value("state", ""), "stopped");
  EXPECT_EQ(c["exit_code"], 9) << c.dump();
  EXPECT_EQ(daemon.vessel({"wait", "late"}).status, 9);
}

}  // namespace
}  // namespace vessel::test
