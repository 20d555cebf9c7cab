// One test per area of the OCI spec, checked from inside a real container.
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <thread>

#include "bundle.h"

namespace vessel::runtime::test {

TEST_F(RuntimeTest, UserGroupsUmaskAndCapabilities) {
  config_["process"]["user"] = {{"uid", 1000}, {"gid", 1000}, {"additionalGids", {5, 6}}, {"umask", 077}};
  config_["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_CHOWN"}},
                                        {"effective", {"CAP_KILL"}},
                                        {"permitted", {"CAP_KILL"}},
                                        {"inheritable", {"CAP_KILL"}},
                                        {"ambient", {"CAP_KILL"}}};
  config_["linux"]["readonlyPaths"] = json::array();
  Output o = run_sh("id -u; id -g; id -G; umask; grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out,
            "1000\n1000\n1000 5 6\n0077\n"
            "CapEff:\t0000000000000020\nCapBnd:\t0000000000000021\nCapAmb:\t0000000000000020\n");
}

TEST_F(RuntimeTest, RlimitsNoNewPrivsOomScore) {
  config_["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 123}, {"hard", 456}}};
  config_["process"]["noNewPrivileges"] = true;
  config_["process"]["oomScoreAdj"] = 321;
  Output o = run_sh("ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "123\n456\nNoNewPrivs:\t1\n321\n");
}

TEST_F(RuntimeTest, HostnameDomainnameEnvCwd) {
  config_["hostname"] = "box";
  config_["domainname"] = "example.org";
  config_["process"]["env"] = {"PATH=/bin", "GREETING=hi there"};
  config_["process"]["cwd"] = "/etc";
  Output o = run_sh("hostname; cat /proc/sys/kernel/domainname; echo $GREETING; pwd; echo $HOME");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "box\nexample.org\nhi there\n/etc\n/root\n");
}

TEST_F(RuntimeTest, MountsBindTmpfsAndOptions) {
  fs::create_directories(dir_ + "/share");
  std::ofstream(dir_ + "/share/file") << "shared-data";
  std::ofstream(dir_ + "/single") << "one-file";
  config_["mounts"].push_back({{"destination", "/data"}, {"type", "bind"}, {"source", dir_ + "/share"}, {"options", {"rbind", "ro"}}});
  config_["mounts"].push_back({{"destination", "/etc/single"}, {"type", "bind"}, {"source", dir_ + "/single"}, {"options", {"bind"}}});
  config_["mounts"].push_back({{"destination", "/scratch/deep"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"size=1m", "noexec"}}});
  Output o = run_sh("cat /data/file; echo; cat /etc/single; echo; touch /data/x 2>/dev/null && echo rw || echo ro;"
                    "grep ' /scratch/deep ' /proc/mounts | cut -d' ' -f3,4");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("shared-data\none-file\nro\ntmpfs "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("noexec"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("size=1024k"), std::string::npos) << o.out;
}

TEST_F(RuntimeTest, ReadonlyRootMaskedAndReadonlyPaths) {
  config_["root"]["readonly"] = true;
  Output o = run_sh("touch /newfile 2>/dev/null && echo root-rw || echo root-ro;"
                    "wc -c < /proc/keys; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-rw || echo sys-ro;"
                    "ls /sys/firmware | wc -l");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "root-ro\n0\nsys-ro\n0\n");
}

TEST_F(RuntimeTest, DevicesDefaultAndConfigured) {
  config_["linux"]["devices"] = {{{"path", "/dev/fuse-like"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"fileMode", 0640}}};
  config_["linux"]["resources"]["devices"] = {{{"allow", false}, {"access", "rwm"}}};
  Output o = run_sh("for d in null zero full random urandom tty; do test -c /dev/$d || echo missing $d; done;"
                    "echo x > /dev/null && echo null-ok; stat -c '%a %t:%T' /dev/fuse-like; head -c 4 /dev/zero | wc -c;"
                    "readlink /dev/ptmx; readlink /dev/fd");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "null-ok\n640 1:3\n4\npts/ptmx\n/proc/self/fd\n");
}

TEST_F(RuntimeTest, SysctlInTheContainersNamespaces) {
  config_["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "123456"}};
  Output o = run_sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "1\n123456\n");
  EXPECT_NE(slurp("/proc/sys/kernel/shmmax"), "123456\n");
}

TEST_F(RuntimeTest, UserNamespaceWithMappings) {
  config_["linux"]["namespaces"].push_back({{"type", "user"}});
  config_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  config_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  config_["linux"].erase("resources");
  Output o = run_sh("cat /proc/self/uid_map | tr -s ' '; id -u");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, " 0 100000 65536\n0\n");
  // exec joins the user namespace, then the PID namespace the runtime joined for it, then the rest.
  set_args({"/bin/sleep", "1000"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  Output e = rt("exec " + id_ + " /bin/sh -c 'cat /proc/self/uid_map | tr -s \" \"; id -u; echo $$'");
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(e.out.substr(0, 18), " 0 100000 65536\n0\n") << e.out;
  EXPECT_LT(std::stoi(e.out.substr(18)), 100) << "a pid of the container's namespace: " << e.out;
}

TEST_F(RuntimeTest, JoinNamespaceByPath) {
  set_args({"/bin/sleep", "1000"});
  config_["hostname"] = "first";
  write_config();
  std::string first = id_ + "a";
  ids_.push_back(first);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + first).status, 0);
  int pid = json::parse(rt("state " + first).out)["pid"].get<int>();
  config_.erase("hostname");
  for (auto& ns : config_["linux"]["namespaces"])
    if (ns["type"] == "uts") ns["path"] = fmt::format("/proc/{}/ns/uts", pid);
  Output o = run_sh("hostname");
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "first\n");
}

TEST_F(RuntimeTest, HooksRunInOrderWithState) {
  std::string log = dir_ + "/hooks.log";
  std::string script = dir_ + "/hook.sh";
  std::ofstream(script) << "#!/bin/sh\nread state\necho \"$1 $(echo \"$state\" | grep -o '\"status\":\"[a-z]*\"')\" >> " << log << "\n";
  fs::permissions(script, fs::perms::owner_all);
  auto hook = [&](const char* name) { return json{{"path", script}, {"args", {"hook.sh", name}}}; };
  config_["hooks"] = {{"prestart", {hook("prestart")}},      {"createRuntime", {hook("createRuntime")}},
                      {"poststart", {hook("poststart")}},    {"poststop", {hook("poststop")}}};
  Output o = run();
  ASSERT_EQ(o.status, 0) << o.err;
  std::string text = slurp(log);
  EXPECT_EQ(text,
            "prestart \"status\":\"created\"\ncreateRuntime \"status\":\"created\"\n"
            "poststart \"status\":\"running\"\npoststop \"status\":\"stopped\"\n");
}

TEST_F(RuntimeTest, FailingHookFailsCreateAndLeavesNothing) {
  config_["hooks"] = {{"createRuntime", {{{"path", "/bin/false"}}}}};
  set_args({"/bin/sleep", "1000"});
  Output o = create(id_);
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("createRuntime"), std::string::npos) << o.err;
  EXPECT_FALSE(state_dir_exists(id_));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/" + id_));
  config_["hooks"] = {{"prestart", {{{"path", "/bin/sleep"}, {"args", {"sleep", "5"}}, {"timeout", 1}}}}};
  Output t = create(id_);
  EXPECT_EQ(t.status, 1);
  EXPECT_NE(t.err.find("timed out"), std::string::npos) << t.err;
}

TEST_F(RuntimeTest, SeccompErrnoAndKill) {
  config_["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
      {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}},
                    {{"names", {"sethostname"}}, {"action", "SCMP_ACT_KILL_PROCESS"}},
                    {{"names", {"personality"}}, {"action", "SCMP_ACT_ERRNO"},
                     {"args", {{{"index", 0}, {"value", 8}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  config_["mounts"].push_back({{"destination", "/w"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  Output o = run_sh("mkdir /w/d 2>&1; echo rc=$?");
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("Operation not permitted"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("rc=1"), std::string::npos) << o.out;
  id_ += "k";
  set_args({"/bin/hostname", "foo"});
  Output k = run();
  EXPECT_EQ(k.status, 128 + SIGSYS) << k.out << k.err;
  // The filter applies to exec'd processes too.
  id_ += "e";
  set_args({"/bin/sleep", "1000"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(rt("run -d --bundle " + bundle_ + " " + id_).status, 0);
  Output e = rt("exec " + id_ + " /bin/sh -c 'mkdir /w/e 2>/dev/null; echo $?'");
  EXPECT_EQ(e.out, "1\n") << e.err;
}

// Receives the pty master over the console socket and reads what the container prints.
TEST_F(RuntimeTest, TerminalThroughConsoleSocket) {
  std::string sock_path = dir_ + "/console.sock";
  int srv = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(srv, 1), 0);
  config_["process"]["terminal"] = true;
  set_args({"/bin/sh", "-c", "tty; test -t 0 && echo is-a-tty; sleep 1"});
  int master = -1;
  std::thread receiver([&] {
    int c = accept(srv, nullptr, nullptr);
    char data[256];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(c, &msg, 0) > 0 && CMSG_FIRSTHDR(&msg)) memcpy(&master, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
    close(c);
  });
  Output o = create(id_, "--console-socket " + sock_path);
  receiver.join();
  close(srv);
  ASSERT_EQ(o.status, 0) << o.err;
  ASSERT_GE(master, 0);
  ASSERT_EQ(rt("start " + id_).status, 0);
  std::string got;
  char buf[256];
  for (int i = 0; i < 50 && got.find("is-a-tty") == std::string::npos; ++i) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(master);
  EXPECT_NE(got.find("/dev/pts/0"), std::string::npos) << got;
  EXPECT_NE(got.find("is-a-tty"), std::string::npos) << got;
}

TEST_F(RuntimeTest, PreserveFdsPassesExactlyThoseFds) {
  set_args({"/bin/sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"});
  write_config();
  ids_.push_back(id_ + "p");
  Output p = sh(fmt::format("exec 3</etc/hostname 4</etc/hostname; {} --root {} run --preserve-fds 1 --bundle {} {}",
                            VESSEL_RUNTIME_BIN, root_, bundle_, id_ + "p"));
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_EQ(p.out, "0 1 2 3 4 ") << "fd 3 preserved, fd 4 not (4 is ls's own directory fd)";
}

}  // namespace vessel::runtime::test
