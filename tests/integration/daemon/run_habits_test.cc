// Docker's run habits (docs/daemon/run.md), through the real CLI, vesseld and vessel-runtime:
// --rm, the 126/127 statuses, -u, -w, --hostname, --entrypoint, --env-file, --label-file, --init,
// -i without -t, terminal resizes, and exec's statuses and TERM.
#include <fstream>
#include <thread>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

class RunHabits : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    std::ofstream(rootfs + "/etc/passwd", std::ios::app) << "alice:x:1000:1001::/home/alice:/bin/sh\n";
    std::ofstream(rootfs + "/etc/group", std::ios::app) << "alice:x:1001:\nstaff:x:50:alice\n";
    std::ofstream(rootfs + "/bin/not-executable") << "#!/bin/sh\n";
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  bool exists(const std::string& name) { return daemon.vessel({"inspect", name}).status == 0; }
  CliResult run_in_rootfs(std::vector<std::string> flags, const std::vector<std::string>& command) {
    std::vector<std::string> args{"run"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--rootfs", rootfs, "--"});
    args.insert(args.end(), command.begin(), command.end());
    return daemon.vessel(args);
  }
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path};
};

TEST_F(RunHabits, RmKeepsTheExitForItsWaiterThenLeavesNothing) {
  // Ends at once: the attached client still gets its output and status, then the instance goes.
  auto r = run_in_rootfs({"--rm", "-a", "--name", "quick"}, {"/bin/sh", "-c", "echo hi; exit 3"});
  EXPECT_EQ(r.status, 3) << r.err << daemon.log();
  EXPECT_EQ(r.out, "quick\nhi\n");
  EXPECT_TRUE(eventually([&] { return !exists("quick"); })) << daemon.vessel({"ls", "--json"}).out;
  // Detached: removed once it ends by itself; a stop removes it too.
  ASSERT_EQ(run_in_rootfs({"--rm", "--name", "brief"}, {"/bin/sleep", "0.3"}).status, 0);
  EXPECT_TRUE(eventually([&] { return !exists("brief"); })) << daemon.log();
  ASSERT_EQ(run_in_rootfs({"--rm", "-d", "--name", "long", "--stop-timeout", "1"}, {"/bin/sleep", "100"}).status, 0);
  EXPECT_EQ(state_of(daemon, "long"), "running");
  ASSERT_EQ(daemon.vessel({"stop", "long"}).status, 0);
  EXPECT_FALSE(exists("long"));
  // Without --rm the stopped instance stays.
  ASSERT_EQ(run_in_rootfs({"--wait", "--name", "kept"}, {"/bin/true"}).status, 0);
  EXPECT_EQ(state_of(daemon, "kept"), "stopped");
  auto both = run_in_rootfs({"--rm", "--restart", "always"}, {"/bin/true"});
  EXPECT_EQ(both.status, 1);
  EXPECT_NE(both.err.find("exclude each other"), std::string::npos) << both.err;
}

TEST_F(RunHabits, CommandsThatCannotRunExit127And126) {
  auto missing = run_in_rootfs({"--rm", "-a", "--name", "missing"}, {"/no/such/program"});
  EXPECT_EQ(missing.status, 127) << missing.err;
  EXPECT_NE(missing.err.find("/no/such/program"), std::string::npos) << missing.err;
  EXPECT_FALSE(exists("missing")) << "a failed --rm run leaves nothing";
  auto not_in_path = run_in_rootfs({"--rm", "--wait"}, {"no-such-program"});
  EXPECT_EQ(not_in_path.status, 127) << not_in_path.err;
  EXPECT_NE(not_in_path.err.find("not found in $PATH"), std::string::npos) << not_in_path.err;
  auto directory = run_in_rootfs({"--name", "dir", "-a"}, {"/etc"});
  EXPECT_EQ(directory.status, 126) << directory.err;
  EXPECT_EQ(state_of(daemon, "dir"), "created") << "without --rm the instance stays, as Docker's";
  // Found but not executable: execve fails after the start; the container's status says so.
  auto noexec = run_in_rootfs({"--rm", "-a"}, {"/bin/not-executable"});
  EXPECT_EQ(noexec.status, 126) << noexec.err;
  // exec: the same statuses, and one "exec:" in the message.
  ASSERT_EQ(run_in_rootfs({"--name", "box", "--stop-timeout", "1"}, {"/bin/sleep", "100"}).status, 0);
  auto exec_missing = daemon.vessel({"exec", "box", "--", "nothere"});
  EXPECT_EQ(exec_missing.status, 127) << exec_missing.err;
  EXPECT_EQ(exec_missing.err.find("exec: exec:"), std::string::npos) << exec_missing.err;
  EXPECT_EQ(daemon.vessel({"exec", "box", "--", "/bin/not-executable"}).status, 126);
  auto term = daemon.vessel({"exec", "-t", "box", "--", "/bin/env"});
  EXPECT_NE(term.out.find("TERM=xterm"), std::string::npos) << term.out << term.err;
  EXPECT_EQ(daemon.vessel({"exec", "box", "--", "/bin/env"}).out.find("TERM="), std::string::npos);
}

TEST_F(RunHabits, UserWorkdirAndHostname) {
  std::filesystem::create_directories(rootfs + "/srv/app");
  auto r = run_in_rootfs({"-a", "-u", "alice", "-w", "/srv/app", "--hostname", "box-1"}, {"/bin/sh", "-c", "id; pwd; hostname"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  EXPECT_NE(r.out.find("uid=1000(alice) gid=1001(alice) groups=50(staff)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n/srv/app\nbox-1\n"), std::string::npos) << r.out;
  auto numeric = run_in_rootfs({"-a", "-u", "4242:50"}, {"/bin/id"});
  ASSERT_EQ(numeric.status, 0) << numeric.err;
  EXPECT_NE(numeric.out.find("uid=4242 gid=50(staff)"), std::string::npos) << numeric.out;
  auto unknown = run_in_rootfs({"-a", "-u", "bob"}, {"/bin/id"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("unable to find user bob"), std::string::npos) << unknown.err;
}

TEST_F(RunHabits, EntrypointAndTheImagesUserFollowDockersRules) {
  std::string archive = make_busybox_image_archive(tmp.path + "/ep", R"({"Entrypoint":["/bin/echo","from-entrypoint"],"Cmd":["default-cmd"],"User":"alice"})");
  // The archive's rootfs is the plain busybox one: give it alice too.
  auto imported = daemon.vessel({"image", "import", "-q", archive, "--name", "ep"});
  ASSERT_EQ(imported.status, 0) << imported.err << daemon.log();
  auto dflt = daemon.vessel({"run", "-a", "--user", "0", "ep"});
  EXPECT_EQ(dflt.out.substr(dflt.out.find('\n') + 1), "from-entrypoint default-cmd\n") << dflt.err;
  auto args = daemon.vessel({"run", "-a", "--user", "0", "ep", "--", "mine"});
  EXPECT_EQ(args.out.substr(args.out.find('\n') + 1), "from-entrypoint mine\n") << args.err;
  auto replaced = daemon.vessel({"run", "-a", "--user", "0", "--entrypoint", "/bin/sh", "ep", "--", "-c", "echo replaced"});
  EXPECT_EQ(replaced.out.substr(replaced.out.find('\n') + 1), "replaced\n") << replaced.err;
  // The image's USER names alice, whom its /etc/passwd does not know.
  auto as_image_user = daemon.vessel({"run", "-a", "ep"});
  EXPECT_EQ(as_image_user.status, 1);
  EXPECT_NE(as_image_user.err.find("unable to find user alice"), std::string::npos) << as_image_user.err;
}

// -t: the command gets a terminal, which vessel-shim holds; `run -t` attaches to it. With stdin a
// pipe, its bytes are typed into the terminal, and Ctrl-C (0x03) becomes the command's SIGINT.
TEST_F(RunHabits, TerminalRunAttachesAndCtrlCReachesTheCommand) {
  std::string vessel = vessel_path() + " --socket " + daemon.socket();
  auto typed = run({"bash", "-c", "printf 'echo in-$((1+2))\\nexit 5\\n' | " + vessel + " run -it --rm --name term --rootfs " +
                                      rootfs + " -- /bin/sh"});
  EXPECT_EQ(typed.status, 5) << typed.out << typed.err << daemon.log();
  EXPECT_NE(typed.out.find("in-3"), std::string::npos) << typed.out;
  EXPECT_FALSE(exists("term"));
  // Ctrl-C every half second until the trap is set (the shell is pid 1: without a handler it
  // would ignore SIGINT) and it exits.
  auto interrupted = run({"bash", "-c", "for i in $(seq 240); do printf '\\003'; sleep 0.5; done | " + vessel +
                                            " run -it --name ctrlc --rootfs " + rootfs +
                                            " -- /bin/sh -c 'trap \"echo got-int; exit 7\" INT; echo ready; while :; do sleep 0.1; done'"});
  EXPECT_EQ(interrupted.status, 7) << interrupted.out << interrupted.err;
  EXPECT_NE(interrupted.out.find("got-int"), std::string::npos) << interrupted.out;
  // Its terminal is a pty; what it printed is in the log too; attaching needs it running and a terminal.
  auto tty = run_in_rootfs({"-t", "--name", "tty1"}, {"/bin/sh", "-c", "tty; echo $TERM"});
  EXPECT_EQ(tty.status, 0) << tty.err;
  EXPECT_NE(tty.out.find("/dev/pts/0"), std::string::npos) << tty.out;
  EXPECT_NE(daemon.vessel({"logs", "tty1"}).out.find("xterm"), std::string::npos);
  auto ended = daemon.vessel({"attach", "tty1"});
  EXPECT_EQ(ended.status, 1);
  EXPECT_NE(ended.err.find("instance is stopped"), std::string::npos) << ended.err;
  ASSERT_EQ(run_in_rootfs({"--name", "plain", "--stop-timeout", "1"}, {"/bin/sleep", "100"}).status, 0);
  auto no_tty = daemon.vessel({"attach", "plain"});
  EXPECT_NE(no_tty.err.find("without a terminal"), std::string::npos) << no_tty.err;
}

TEST_F(RunHabits, ATerminalIsResizedAfterTheStart) {
  std::string script = "trap 'stty size' WINCH; echo ready; while :; do sleep 0.1; done";
  ASSERT_EQ(run_in_rootfs({"-t", "-d", "--name", "sized", "--stop-timeout", "1"}, {"/bin/sh", "-c", script}).status, 0);
  auto logged = [&](const std::string& what) {
    return eventually([&] { return daemon.vessel({"logs", "sized"}).out.find(what) != std::string::npos; });
  };
  ASSERT_TRUE(logged("ready")) << daemon.log();
  auto resize = [&](const std::string& name, const std::string& query) {
    return run({"curl", "-sS", "-w", "%{http_code}", "--unix-socket", daemon.socket(), "-X", "POST",
                "http://localhost/v1/instances/" + name + "/resize" + query});
  };
  EXPECT_EQ(resize("sized", "?h=40&w=100").out, "204");
  EXPECT_TRUE(logged("40 100")) << daemon.vessel({"logs", "sized"}).out;  // the shell saw SIGWINCH and the size
  auto zero = resize("sized", "?h=0&w=100");
  EXPECT_NE(zero.out.find("rows from 1 to 65535"), std::string::npos) << zero.out;
  EXPECT_NE(zero.out.find("400"), std::string::npos) << zero.out;
  ASSERT_EQ(run_in_rootfs({"--name", "plain", "--stop-timeout", "1"}, {"/bin/sleep", "100"}).status, 0);
  auto no_tty = resize("plain", "?h=40&w=100");
  EXPECT_NE(no_tty.out.find("has no terminal"), std::string::npos) << no_tty.out;
}

TEST_F(RunHabits, KillSignalsTheCommandAndAttachForwardsWhatItGets) {
  std::string script = "trap 'echo got-hup' HUP; trap 'exit 9' USR1; echo ready; while :; do sleep 0.1; done";
  ASSERT_EQ(run_in_rootfs({"--name", "k", "--stop-timeout", "1"}, {"/bin/sh", "-c", script}).status, 0);
  auto logged = [&](const std::string& name, const std::string& what) {
    return eventually([&] { return daemon.vessel({"logs", name}).out.find(what) != std::string::npos; });
  };
  ASSERT_TRUE(logged("k", "ready"));
  EXPECT_EQ(daemon.vessel({"kill", "-s", "HUP", "k"}).status, 0);
  EXPECT_TRUE(logged("k", "got-hup"));
  EXPECT_EQ(state_of(daemon, "k"), "running");
  auto bad = daemon.vessel({"kill", "-s", "NOPE", "k"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("unknown signal"), std::string::npos) << bad.err;
  EXPECT_EQ(daemon.vessel({"kill", "--signal", "SIGUSR1", "k"}).status, 0);
  ASSERT_TRUE(eventually([&] { return state_of(daemon, "k") == "stopped"; }));
  EXPECT_EQ(daemon.vessel_json({"inspect", "k"})["exit_code"], 9);
  auto stopped = daemon.vessel({"kill", "k"});
  EXPECT_NE(stopped.err.find("it is stopped"), std::string::npos) << stopped.err;
  // run -a forwards the signals it gets (SIGTERM here: a background job of a script ignores SIGINT).
  std::string vessel = vessel_path() + " --socket " + daemon.socket();
  auto proxied = run({"bash", "-c", vessel + " run -a --name sp --rootfs " + rootfs +
                                        " -- /bin/sh -c 'trap \"echo got-term; exit 6\" TERM; echo ready; while :; do sleep 0.1; done' & pid=$!; "
                                        "until " + vessel + " logs sp 2>/dev/null | grep -q ready; do sleep 0.1; done; kill -TERM $pid; wait $pid"});
  EXPECT_EQ(proxied.status, 6) << proxied.out << proxied.err;
  EXPECT_NE(proxied.out.find("got-term"), std::string::npos) << proxied.out;
  // --sig-proxy=false: the signal ends the CLI alone (143) and the instance runs on.
  auto unproxied = run({"bash", "-c", vessel + " run -a --sig-proxy=false --name nsp --rootfs " + rootfs +
                                          " -- /bin/sh -c 'trap \"echo got-term\" TERM; echo ready; while :; do sleep 0.1; done' & pid=$!; "
                                          "until " + vessel + " logs nsp 2>/dev/null | grep -q ready; do sleep 0.1; done; kill -TERM $pid; wait $pid"});
  EXPECT_EQ(unproxied.status, 143) << unproxied.out << unproxied.err;
  EXPECT_EQ(state_of(daemon, "nsp"), "running");
  EXPECT_EQ(unproxied.out.find("got-term"), std::string::npos) << unproxied.out;
}

TEST_F(RunHabits, InitPassesSignalsOnAndReapsOrphans) {
  // Without --init, sleep is process 1: the kernel drops its SIGTERM and the stop kills it at the timeout.
  ASSERT_EQ(run_in_rootfs({"--name", "bare", "--stop-timeout", "1"}, {"/bin/sleep", "100"}).status, 0);
  ASSERT_EQ(daemon.vessel({"stop", "bare"}).status, 0);
  EXPECT_EQ(daemon.vessel_json({"inspect", "bare"})["exit_code"], 137);
  // With it, vessel-init is process 1 and passes SIGTERM on: sleep ends by it (128 + 15).
  ASSERT_EQ(run_in_rootfs({"--init", "--name", "inited", "--stop-timeout", "60"}, {"/bin/sleep", "100"}).status, 0);
  auto pid1 = daemon.vessel({"exec", "inited", "--", "/bin/cat", "/proc/1/cmdline"});
  EXPECT_EQ(pid1.out.substr(0, pid1.out.find('\0')), "/dev/init") << pid1.err;
  ASSERT_EQ(daemon.vessel({"stop", "inited"}).status, 0);
  EXPECT_EQ(daemon.vessel_json({"inspect", "inited"})["exit_code"], 143);
  // An orphan (the inner shell's background sleep) is reaped by vessel-init, not left a zombie;
  // the command's own status is the run's.
  auto reaped = run_in_rootfs({"--init", "--rm", "-a", "--name", "orphans"},
                              {"/bin/sh", "-c", "sh -c 'sleep 0.2 &'; sleep 1; cat /proc/[0-9]*/status | grep State; exit 5"});
  EXPECT_EQ(reaped.status, 5) << reaped.err;
  EXPECT_NE(reaped.out.find("State:"), std::string::npos) << reaped.out;
  EXPECT_EQ(reaped.out.find("zombie"), std::string::npos) << reaped.out;
  auto missing = run_in_rootfs({"--init", "--rm", "-a"}, {"/no/such/program"});
  EXPECT_EQ(missing.status, 127) << missing.err;
}

TEST_F(RunHabits, InteractiveStdinWithoutATerminal) {
  std::string vessel = vessel_path() + " --socket " + daemon.socket();
  // Piped into run -i: the command reads it to EOF; its output and status come back.
  auto piped = run({"sh", "-c", "printf 'one\\ntwo\\n' | " + vessel + " run -i --rm --name counted --rootfs " + rootfs +
                                    " -- /bin/sh -c 'wc -l; exit 4'"});
  EXPECT_EQ(piped.status, 4) << piped.err << daemon.log();
  EXPECT_EQ(piped.out, "counted\n2\n");
  // -d -i: stdin stays open (no EOF) while nobody is attached; the first attach feeds it.
  ASSERT_EQ(run_in_rootfs({"-d", "-i", "--name", "later"}, {"/bin/sh", "-c", "read line; echo got $line; exit 7"}).status, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(state_of(daemon, "later"), "running") << "read must block, not see EOF";
  auto attached = run({"sh", "-c", "echo hello | " + vessel + " attach later"});
  EXPECT_EQ(attached.status, 7) << attached.err;
  EXPECT_NE(attached.out.find("got hello"), std::string::npos) << attached.out;
  // Without -i the command's stdin is /dev/null: read ends at once.
  auto closed = run_in_rootfs({"-a", "--rm", "--name", "closed"}, {"/bin/sh", "-c", "read line || echo eof"});
  EXPECT_EQ(closed.out, "closed\neof\n") << closed.err;
}

TEST_F(RunHabits, FractionalCpusAreAContainersQuota) {
  ASSERT_EQ(run_in_rootfs({"--name", "half", "--cpus", "0.5", "--stop-timeout", "1"}, {"/bin/sleep", "100"}).status, 0) << daemon.log();
  auto half = daemon.vessel_json({"inspect", "half"});
  EXPECT_EQ(half.value("cpu_quota", 0.0), 0.5) << half.dump();
  EXPECT_EQ(half.value("cpu_reservation", 0.0), 0.5);
  EXPECT_EQ(half.value("cpus", 0), 1);
  auto vm = daemon.vessel({"run", "--vm", "--kernel", "/boot/vmlinuz", "--cpus", "1.5"});
  EXPECT_EQ(vm.status, 1);
  EXPECT_NE(vm.err.find("a VM has whole vCPUs"), std::string::npos) << vm.err;
}

TEST_F(RunHabits, EnvAndLabelFiles) {
  std::ofstream(tmp.path + "/app.env") << "# settings\nMODE=prod\nGREETING=from file\nMODE=later-wins\n";
  std::ofstream(tmp.path + "/labels") << "tier=web\nteam\n";
  auto r = run_in_rootfs({"-a", "--name", "envs", "--env-file", tmp.path + "/app.env", "-e", "GREETING=from flag",
                          "--label-file", tmp.path + "/labels"},
                         {"/bin/sh", "-c", "echo $MODE/$GREETING"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "envs\nlater-wins/from flag\n");
  auto labels = daemon.vessel_json({"inspect", "envs"})["labels"];
  EXPECT_EQ(labels, json::Json({{"tier", "web"}, {"team", ""}})) << labels.dump();
  auto missing = run_in_rootfs({"--env-file", tmp.path + "/nope"}, {"/bin/true"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("--env-file"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace vessel::test
