// create/start/state/kill/delete, run, exec, pause/resume, update, ps, list, events: the runc
// command line on real containers.
#include <fmt/format.h>

#include <algorithm>

#include "bundle.h"

namespace vessel::runtime::test {

TEST_F(RuntimeTest, RunTrueExitsZeroAndLeavesNoStateOrCgroup) {
  Output o = run();
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_FALSE(state_dir_exists(id_));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/" + id_));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/" + id_));
}

TEST_F(RuntimeTest, RunReportsTheContainerExitStatusAndOutput) {
  Output o = run_sh("echo out-$((6*7)); echo err >&2; exit 7");
  EXPECT_EQ(o.status, 7);
  EXPECT_EQ(o.out, "out-42\n");
  EXPECT_EQ(o.err, "err\n");
}

TEST_F(RuntimeTest, CreateStartStateKillDelete) {
  set_args({"/bin/sleep", "1000"});
  std::string pidfile = dir_ + "/pid";
  Output c = create(id_, "--pid-file " + pidfile);
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(status(id_), "created");
  json st = json::parse(rt("state " + id_).out);
  EXPECT_EQ(st["id"], id_);
  EXPECT_EQ(st["bundle"], bundle_);
  EXPECT_EQ(std::to_string(st["pid"].get<int>()), slurp(pidfile));
  ASSERT_EQ(rt("start " + id_).status, 0);
  EXPECT_EQ(status(id_), "running");
  Output again = rt("start " + id_);
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("running"), std::string::npos) << again.err;
  Output del = rt("delete " + id_);
  EXPECT_NE(del.status, 0) << "a running container must not be deleted without --force";
  ASSERT_EQ(rt("kill " + id_ + " KILL").status, 0);
  for (int i = 0; i < 200 && status(id_) != "stopped"; ++i) usleep(10000);
  EXPECT_EQ(status(id_), "stopped");
  EXPECT_NE(rt("kill " + id_ + " TERM").status, 0) << "killing a stopped container is an error";
  ASSERT_EQ(rt("delete " + id_).status, 0);
  EXPECT_FALSE(state_dir_exists(id_));
  EXPECT_NE(rt("state " + id_).status, 0);
}

TEST_F(RuntimeTest, DeleteForceKillsARunningContainer) {
  set_args({"/bin/sleep", "1000"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  int pid = json::parse(rt("state " + id_).out)["pid"].get<int>();
  ASSERT_EQ(rt("delete --force " + id_).status, 0);
  std::string stat = slurp(fmt::format("/proc/{}/stat", pid));
  EXPECT_TRUE(stat.empty() || stat.find(") Z") != std::string::npos) << "init still alive: " << stat;
  EXPECT_FALSE(state_dir_exists(id_));
  EXPECT_EQ(rt("delete --force does-not-exist").status, 0);
  EXPECT_NE(rt("delete does-not-exist").status, 0);
}

// A network namespace the runtime makes has its loopback up (the kernel makes it down): a process
// can talk to itself on 127.0.0.1. Flags 0x9 = IFF_UP | IFF_LOOPBACK.
TEST_F(RuntimeTest, TheLoopbackOfANewNetworkNamespaceIsUp) {
  set_args({"/bin/cat", "/sys/class/net/lo/flags"});
  Output o = run();
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "0x9\n");
}

TEST_F(RuntimeTest, ExecJoinsTheContainer) {
  config_["hostname"] = "inside";
  set_args({"/bin/sleep", "1000"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  Output h = rt("exec " + id_ + " /bin/hostname");
  EXPECT_EQ(h.status, 0) << h.err;
  EXPECT_EQ(h.out, "inside\n");
  Output ps = rt("exec " + id_ + " /bin/sh -c 'echo $$'");
  EXPECT_NE(ps.out, "1\n");  // not pid 1, but inside the container's pid namespace
  EXPECT_LT(std::stoi(ps.out), 100);
  Output flags = rt("exec --env FOO=bar --cwd /tmp --user 1000:1000 " + id_ + " /bin/sh -c 'echo $FOO $(pwd) $(id -u):$(id -g)'");
  EXPECT_EQ(flags.out, "bar /tmp 1000:1000\n") << flags.err;
  EXPECT_EQ(rt("exec " + id_ + " /bin/sh -c 'exit 5'").status, 5);
  Output missing = rt("exec " + id_ + " /no/such/program");
  EXPECT_EQ(missing.status, 127) << "not found: a shell's (and Docker's) status";
  EXPECT_NE(missing.err.find("/no/such/program"), std::string::npos) << missing.err;
  std::ofstream(dir_ + "/process.json") << R"({"args":["/bin/sh","-c","echo from-process-json"],"cwd":"/","env":["PATH=/bin"]})";
  Output p = rt("exec -p " + dir_ + "/process.json " + id_);
  EXPECT_EQ(p.out, "from-process-json\n") << p.err;
  std::string pidfile = dir_ + "/exec.pid";
  EXPECT_EQ(rt("exec -d --pid-file " + pidfile + " " + id_ + " /bin/sleep 1000").status, 0);
  EXPECT_FALSE(slurp(pidfile).empty());
  Output listing = rt("ps --format json " + id_);
  EXPECT_EQ(json::parse(listing.out).size(), 2u) << listing.out;
  // The table, in ps -ef's columns, read from /proc; with ps arguments, ps(1) filtered.
  Output table = rt("ps " + id_);
  EXPECT_EQ(table.out.rfind("UID          PID    PPID  C STIME TTY          TIME CMD\n", 0), 0u) << table.out;
  EXPECT_NE(table.out.find(" /bin/sleep 1000\n"), std::string::npos) << table.out;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 3) << table.out;
  Output custom = rt("ps " + id_ + " -o pid,comm");
  EXPECT_EQ(custom.out.rfind("    PID COMMAND\n", 0) == 0 || custom.out.rfind("  PID COMMAND\n", 0) == 0, true) << custom.out;
  EXPECT_EQ(std::count(custom.out.begin(), custom.out.end(), '\n'), 3) << custom.out;
}

// Signals a caller ignored (vesseld and its shim ignore SIGPIPE and SIGHUP, as shells and podman
// may) are not ignored in the container's processes, for run and for exec: runc and crun leave
// SigIgn at 0.
TEST_F(RuntimeTest, ContainerProcessesInheritNoIgnoredSignals) {
  const std::string ignoring = "trap '' PIPE HUP INT; " + std::string(VESSEL_RUNTIME_BIN) + " --root " + root_ + " ";
  const std::string zero = "\t0000000000000000\n";
  set_args({"/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"});
  write_config();
  ids_.push_back(id_);
  Output run = sh(ignoring + "run --bundle " + bundle_ + " " + id_);
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, "SigBlk:" + zero + "SigIgn:" + zero);

  set_args({"/bin/sleep", "1000"});
  write_config();
  std::string id = id_ + "-exec";
  ids_.push_back(id);
  ASSERT_EQ(sh(ignoring + "run -d --bundle " + bundle_ + " " + id).status, 0);
  Output exec = sh(ignoring + "exec " + id + " /bin/grep -E '^Sig(Ign|Blk)' /proc/self/status");
  ASSERT_EQ(exec.status, 0) << exec.err;
  EXPECT_EQ(exec.out, "SigBlk:" + zero + "SigIgn:" + zero);
  // The container's init (sleep) too.
  int pid = json::parse(rt("state " + id).out)["pid"].get<int>();
  EXPECT_NE(slurp(fmt::format("/proc/{}/status", pid)).find("SigIgn:" + zero), std::string::npos);
}

TEST_F(RuntimeTest, PauseResumeFreezesTheCgroup) {
  set_args({"/bin/sleep", "1000"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  ASSERT_EQ(rt("pause " + id_).status, 0);
  EXPECT_EQ(status(id_), "paused");
  EXPECT_EQ(slurp("/sys/fs/cgroup/freezer/" + id_ + "/freezer.state"), "FROZEN\n");
  EXPECT_NE(rt("pause " + id_).status, 0) << "pausing twice is an error";
  ASSERT_EQ(rt("resume " + id_).status, 0);
  EXPECT_EQ(status(id_), "running");
  EXPECT_NE(rt("resume " + id_).status, 0);
  EXPECT_EQ(rt("delete -f " + id_).status, 0) << "delete -f of a paused container";
}

TEST_F(RuntimeTest, UpdateChangesLimits) {
  set_args({"/bin/sleep", "1000"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  Output u = rt("update --pids-limit 42 --memory 64m --cpu-shares 512 --cpu-quota 50000 --cpu-period 100000 " + id_);
  ASSERT_EQ(u.status, 0) << u.err;
  EXPECT_EQ(slurp("/sys/fs/cgroup/pids/" + id_ + "/pids.max"), "42\n");
  EXPECT_EQ(slurp("/sys/fs/cgroup/memory/" + id_ + "/memory.limit_in_bytes"), "67108864\n");
  EXPECT_EQ(slurp("/sys/fs/cgroup/cpu/" + id_ + "/cpu.shares"), "512\n");
  EXPECT_EQ(slurp("/sys/fs/cgroup/cpu/" + id_ + "/cpu.cfs_quota_us"), "50000\n");
  std::ofstream(dir_ + "/r.json") << R"({"pids":{"limit":7}})";
  ASSERT_EQ(rt("update --resources " + dir_ + "/r.json " + id_).status, 0);
  EXPECT_EQ(slurp("/sys/fs/cgroup/pids/" + id_ + "/pids.max"), "7\n");
  Output stats = rt("events --stats " + id_);
  ASSERT_EQ(stats.status, 0) << stats.err;
  json j = json::parse(stats.out);
  EXPECT_EQ(j["type"], "stats");
  EXPECT_EQ(j["data"]["pids"]["current"], 1);
  EXPECT_EQ(j["data"]["pids"]["limit"], 7);
}

TEST_F(RuntimeTest, ListAndFeatures) {
  set_args({"/bin/sleep", "1000"});
  ASSERT_EQ(create(id_).status, 0);
  Output l = rt("list --format json");
  json all = json::parse(l.out);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["id"], id_);
  EXPECT_EQ(all[0]["status"], "created");
  EXPECT_EQ(rt("list -q").out, id_ + "\n");
  json f = json::parse(rt("features").out);
  EXPECT_EQ(f["linux"]["cgroup"]["v1"], true);
  EXPECT_EQ(rt("delete " + id_).status, 0) << "a created container can be deleted";
  EXPECT_FALSE(state_dir_exists(id_));
}

TEST_F(RuntimeTest, KillAllSignalsEveryProcess) {
  config_["linux"]["namespaces"] = json::array({{{"type", "mount"}}});  // no pid ns
  config_.erase("hostname");
  set_args({"/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  size_t procs = 0;
  for (int i = 0; i < 200 && procs < 3; ++i, usleep(10000)) procs = json::parse(rt("ps -f json " + id_).out).size();
  EXPECT_EQ(procs, 3u);
  ASSERT_EQ(rt("kill --all " + id_ + " KILL").status, 0);
  for (int i = 0; i < 200 && status(id_) != "stopped"; ++i) usleep(10000);
  EXPECT_EQ(json::parse(rt("ps -f json " + id_).out).size(), 0u);
}

TEST_F(RuntimeTest, GlobalFlagsLogAndErrors) {
  std::string log = dir_ + "/log.json";
  Output o = sh(std::string(VESSEL_RUNTIME_BIN) + " --root " + root_ + " --log " + log +
                " --log-format json state nope");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("does not exist"), std::string::npos);
  json line = json::parse(slurp(log));
  EXPECT_EQ(line["level"], "error");
  EXPECT_NE(line["msg"].get<std::string>().find("does not exist"), std::string::npos);
  Output sd = sh(std::string(VESSEL_RUNTIME_BIN) + " --root " + root_ + " --systemd-cgroup create --bundle " + bundle_ + " x");
  EXPECT_EQ(sd.status, 1);
  EXPECT_NE(sd.err.find("systemd"), std::string::npos);
  EXPECT_EQ(sh(std::string(VESSEL_RUNTIME_BIN) + " --help").status, 0);
  EXPECT_NE(sh(std::string(VESSEL_RUNTIME_BIN) + " frobnicate").status, 0);
}

}  // namespace vessel::runtime::test
