// The systemd cgroup driver against a real systemd (systemd_host.h): vessel-runtime
// --systemd-cgroup makes the container's scope over D-Bus with the limits as unit properties and
// the rest in the delegated cgroup files; update changes both; delete stops the scope.
#include <fmt/format.h>

#include "podman_env.h"
#include "systemd_host.h"

namespace vessel::runtime::test {

class SystemdDriverTest : public RuntimeTest {
 protected:
  static void SetUpTestSuite() { failure_ = SystemdHost::start(); }
  static void TearDownTestSuite() { SystemdHost::stop(); }
  void SetUp() override {
    ASSERT_EQ(failure_, "");
    RuntimeTest::SetUp();
  }
  void TearDown() override {
    for (const auto& id : ids_) in_ns("delete --force " + id);
    RuntimeTest::TearDown();
  }
  // vessel-runtime in systemd's namespaces with the systemd driver.
  Output in_ns(const std::string& args) {
    return sh(SystemdHost::enter() + VESSEL_RUNTIME_BIN + " --root " + root_ + " --systemd-cgroup " + args);
  }
  Output run_detached(const std::string& id) {
    write_config();
    ids_.push_back(id);
    return in_ns("run -d --bundle " + bundle_ + " " + id);
  }
  int init_pid(const std::string& id) { return json::parse(in_ns("state " + id).out)["pid"].get<int>(); }
  // Without a cgroup namespace, /proc/self/cgroup in the container names the scope.
  void no_cgroupns() {
    json kept = json::array();
    for (const auto& ns : config_["linux"]["namespaces"])
      if (ns["type"] != "cgroup") kept.push_back(ns);
    config_["linux"]["namespaces"] = kept;
  }

  static inline std::string failure_;
};

TEST_F(SystemdDriverTest, ScopeCarriesTheLimitsAndDeleteStopsIt) {
  std::string unit = "vessel-" + id_ + ".scope";
  config_["linux"]["cgroupsPath"] = "machine.slice:vessel:" + id_;
  config_["linux"]["resources"] = {
      {"memory", {{"limit", 64 << 20}}},
      {"cpu", {{"shares", 512}, {"quota", 20000}, {"period", 100000}, {"cpus", "0"}}},
      {"pids", {{"limit", 32}}},
      {"unified", {{"memory.high", std::to_string(48 << 20)}, {"memory.oom.group", "1"}}}};
  set_args({"/bin/sleep", "1000"});
  no_cgroupns();
  Output o = run_detached(id_);
  ASSERT_EQ(o.status, 0) << o.err << slurp(SystemdHost::log());

  // systemd knows the scope, in the slice the path named, with the limits as properties.
  EXPECT_EQ(SystemdHost::property(unit, "ActiveState"), "active");
  EXPECT_EQ(SystemdHost::property(unit, "Delegate"), "yes");
  EXPECT_EQ(SystemdHost::property(unit, "Slice"), "machine.slice");
  EXPECT_EQ(SystemdHost::property(unit, "ControlGroup"), "/machine.slice/" + unit);
  EXPECT_EQ(SystemdHost::property(unit, "MemoryMax"), std::to_string(64 << 20));
  EXPECT_EQ(SystemdHost::property(unit, "MemoryHigh"), std::to_string(48 << 20));
  EXPECT_EQ(SystemdHost::property(unit, "TasksMax"), "32");
  EXPECT_EQ(SystemdHost::property(unit, "CPUQuotaPerSecUSec"), "200ms");
  EXPECT_EQ(SystemdHost::property(unit, "CPUWeight"), "20");  // shares 512, as runc and crun convert
  EXPECT_EQ(SystemdHost::property(unit, "AllowedCPUs"), "0");

  // The files, in the scope's (delegated) cgroup; memory.oom.group has no property: written.
  std::string dir = SystemdHost::host_dir("/machine.slice/" + unit);
  EXPECT_EQ(slurp(dir + "/memory.max"), std::to_string(64 << 20) + "\n");
  EXPECT_EQ(slurp(dir + "/memory.high"), std::to_string(48 << 20) + "\n");
  EXPECT_EQ(slurp(dir + "/pids.max"), "32\n");
  EXPECT_EQ(slurp(dir + "/cpu.max"), "20000 100000\n");
  EXPECT_EQ(slurp(dir + "/cpu.weight"), "20\n");
  EXPECT_EQ(slurp(dir + "/cpuset.cpus"), "0\n");
  EXPECT_EQ(slurp(dir + "/memory.oom.group"), "1\n");

  // The container's processes, exec'd ones too, are in the scope.
  int pid = init_pid(id_);  // in systemd's pid namespace
  Output procs = sh(SystemdHost::enter() + "cat /sys/fs/cgroup/machine.slice/" + unit + "/cgroup.procs");
  EXPECT_NE(("\n" + procs.out).find("\n" + std::to_string(pid) + "\n"), std::string::npos) << procs.out;
  Output e = in_ns("exec " + id_ + " /bin/cat /proc/self/cgroup");
  EXPECT_EQ(e.status, 0) << e.err;
  EXPECT_NE(e.out.find("/machine.slice/" + unit), std::string::npos) << e.out;

  // pause and resume: the freezer of the scope's cgroup.
  EXPECT_EQ(in_ns("pause " + id_).status, 0);
  EXPECT_EQ(slurp(dir + "/cgroup.freeze"), "1\n");
  EXPECT_EQ(json::parse(in_ns("state " + id_).out).value("status", ""), "paused");
  EXPECT_EQ(in_ns("resume " + id_).status, 0);
  EXPECT_EQ(json::parse(in_ns("state " + id_).out).value("status", ""), "running");

  // update: the property and the file.
  Output u = in_ns("update --memory 134217728 --pids-limit 40 " + id_);
  EXPECT_EQ(u.status, 0) << u.err;
  EXPECT_EQ(SystemdHost::property(unit, "MemoryMax"), "134217728");
  EXPECT_EQ(SystemdHost::property(unit, "TasksMax"), "40");
  EXPECT_EQ(slurp(dir + "/memory.max"), "134217728\n");

  Output d = in_ns("delete --force " + id_);
  EXPECT_EQ(d.status, 0) << d.err;
  EXPECT_EQ(SystemdHost::property(unit, "LoadState"), "not-found");
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_FALSE(state_dir_exists(id_));
}

TEST_F(SystemdDriverTest, DefaultScopeForAnEmptyCgroupsPathAndForegroundRun) {
  set_args({"/bin/sh", "-c", "grep -c system.slice/vessel-runtime-" + id_ + ".scope /proc/self/cgroup"});
  no_cgroupns();
  write_config();
  ids_.push_back(id_);
  Output o = in_ns("run --bundle " + bundle_ + " " + id_);
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "1\n");
  EXPECT_EQ(SystemdHost::property("vessel-runtime-" + id_ + ".scope", "LoadState"), "not-found");
  EXPECT_FALSE(fs::exists(SystemdHost::host_dir("/system.slice/vessel-runtime-" + id_ + ".scope")));
}

TEST_F(SystemdDriverTest, AnExitedContainersScopeIsGoneAndDeleteStillWorks) {
  set_args({"/bin/true"});
  write_config();
  ids_.push_back(id_);
  ASSERT_EQ(in_ns("create --bundle " + bundle_ + " " + id_).status, 0);
  ASSERT_EQ(in_ns("start " + id_).status, 0);
  for (int i = 0; i < 500 && json::parse(in_ns("state " + id_).out).value("status", "") != "stopped"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Output d = in_ns("delete " + id_);
  EXPECT_EQ(d.status, 0) << d.err;
  EXPECT_EQ(SystemdHost::property("vessel-runtime-" + id_ + ".scope", "LoadState"), "not-found");
}

TEST_F(SystemdDriverTest, ASecondContainerOnTheSameScopeFailsAndLeavesNothing) {
  config_["linux"]["cgroupsPath"] = "machine.slice:vessel:shared-" + id_;
  set_args({"/bin/sleep", "1000"});
  ASSERT_EQ(run_detached(id_).status, 0);
  Output o = run_detached(id_ + "b");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("UnitExists"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("another container uses this linux.cgroupsPath"), std::string::npos) << o.err;
  EXPECT_FALSE(state_dir_exists(id_ + "b"));
  EXPECT_EQ(SystemdHost::property("vessel-shared-" + id_ + ".scope", "ActiveState"), "active");
  EXPECT_EQ(json::parse(in_ns("state " + id_).out).value("status", ""), "running");
}

TEST_F(SystemdDriverTest, ACgroupfsPathIsRefusedWithTheSystemdDriver) {
  config_["linux"]["cgroupsPath"] = "/vessel-test/" + id_;
  Output o = run_detached(id_);
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("is a cgroupfs path"), std::string::npos) << o.err;
  EXPECT_FALSE(state_dir_exists(id_));
}

// podman's default cgroup manager, systemd: it reaches systemd through the system bus (conmon's
// scope) and hands vessel-runtime --systemd-cgroup with machine.slice:libpod:ID paths.
TEST_F(SystemdDriverTest, PodmanWithItsDefaultSystemdCgroupManager) {
  ASSERT_EQ(SystemdHost::start_system_bus(), "");
  std::string podman = podman_command(dir_, "systemd");
  std::string in = SystemdHost::enter();
  Output imp = podman_import(podman, dir_, rootfs_, in);
  ASSERT_EQ(imp.status, 0) << imp.err;
  Output r = sh(in + podman + " run --rm " + kPodmanImage + " /bin/echo hello-from-podman");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello-from-podman\n");
  std::string name = "vrt-" + id_;
  Output d = sh(in + podman + " run -d --name " + name + " " + kPodmanImage + " /bin/sleep 1000");
  ASSERT_EQ(d.status, 0) << d.err;
  std::string cid = sh(in + podman + " inspect -f '{{.Id}}' " + name).out;
  while (!cid.empty() && cid.back() == '\n') cid.pop_back();
  std::string unit = "libpod-" + cid + ".scope";
  EXPECT_EQ(SystemdHost::property(unit, "ActiveState"), "active") << SystemdHost::systemctl("list-units");
  EXPECT_EQ(SystemdHost::property(unit, "ControlGroup"), "/machine.slice/" + unit);
  Output e = sh(in + podman + " exec " + name + " /bin/sh -c 'echo $((1+2))'");
  EXPECT_EQ(e.out, "3\n") << e.err;
  Output st = sh(in + podman + " stop -t 1 " + name);
  EXPECT_EQ(st.status, 0) << st.err;
  EXPECT_EQ(sh(in + podman + " rm " + name).status, 0);
  EXPECT_EQ(SystemdHost::property(unit, "LoadState"), "not-found");
  podman_reset(podman, dir_, in);
}

}  // namespace vessel::runtime::test
