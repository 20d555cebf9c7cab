// A real systemd (the host's /lib/systemd/systemd) for the systemd cgroup driver's tests, where
// systemd is not this machine's init: PID 1 of new pid, mount and cgroup namespaces, in a cgroup
// of its own on a pure cgroup v2 host (systemd-pid1 sets it up). Commands reach it through
// nsenter: its /run/systemd/private, its cgroup2 view and its pid numbers.
#pragma once

#include <signal.h>

#include <chrono>
#include <thread>

#include "bundle.h"

namespace vessel::runtime::test {

class SystemdHost {
 public:
  // Returns "" when systemd answers, else what went wrong.
  static std::string start() {
    if (!fs::exists("/sys/fs/cgroup/cgroup.controllers"))
      return "needs a pure cgroup v2 host: run through tests/integration/in-pure-cgroup2";
    cgroup_ = fmt::format("/sys/fs/cgroup/vessel-systemd-{}", getpid());
    fs::create_directories(cgroup_);
    for (const char* c : {"cpu", "cpuset", "memory", "pids", "io"})
      sh(fmt::format("echo +{} > /sys/fs/cgroup/cgroup.subtree_control", c));
    log_ = fmt::format("/tmp/vessel-systemd-{}.log", getpid());
    Output o = sh(fmt::format("unshare --pid --mount --fork --kill-child {} {} >{} 2>&1 & echo $!", VESSEL_SYSTEMD_PID1,
                              cgroup_, log_));
    pid_t unshare = std::atoi(o.out.c_str());
    for (int i = 0; i < 1200 && pid_ == 0; ++i) {
      std::string children = slurp(fmt::format("/proc/{}/task/{}/children", unshare, unshare));
      if (!children.empty()) pid_ = std::atoi(children.c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid_ == 0) return "systemd-pid1 did not start: " + slurp(log_);
    for (int i = 0; i < 2400 && !fs::exists(fmt::format("/proc/{}/root/run/systemd/private", pid_)); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Output up = sh(enter() + " timeout 120 systemctl is-system-running --wait");
    if (up.out != "running\n") return "systemd is not running: " + up.out + up.err + slurp(log_);
    return {};
  }

  static void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);  // PID 1 of its namespace: every process in it goes too
      for (int i = 0; i < 1000 && fs::exists(fmt::format("/proc/{}", pid_)); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!cgroup_.empty()) sh("find " + cgroup_ + " -depth -type d -exec rmdir {} + 2>/dev/null");
    if (!log_.empty()) fs::remove(log_);
  }

  // The system bus, for clients that reach systemd through it (podman): Debian's dbus.socket and
  // dbus.service without their default dependencies (which would boot the whole system), so
  // systemd connects to the bus as it does at boot. Returns "" when systemd answers on it.
  static std::string start_system_bus() {
    for (const char* unit : {"dbus.socket", "dbus.service"}) {
      std::string dropin = fmt::format("/proc/{}/root/run/systemd/system/{}.d", pid_, unit);
      fs::create_directories(dropin);
      std::ofstream(dropin + "/vessel-test.conf") << "[Unit]\nDefaultDependencies=no\n";
    }
    sh(enter() + "systemctl daemon-reload");
    Output o = sh(enter() + "systemctl start dbus.socket dbus.service");
    if (o.status != 0) return "dbus did not start: " + o.err + systemctl("status dbus.service");
    for (int i = 0; i < 600; ++i) {
      Output ping = sh(enter() + "busctl --system call org.freedesktop.systemd1 /org/freedesktop/systemd1 "
                                 "org.freedesktop.DBus.Peer Ping");
      if (ping.status == 0) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "systemd is not on the system bus: " + systemctl("status dbus.service");
  }

  static std::string enter() { return fmt::format("nsenter -t {} -m -p -C -- ", pid_); }
  static std::string systemctl(const std::string& args) { return sh(enter() + "systemctl --no-pager " + args).out; }
  // One property's value ("" when systemd does not know the unit).
  static std::string property(const std::string& unit, const std::string& name) {
    std::string v = systemctl("show --value -p " + name + " " + unit);
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  }
  // The host's directory of a cgroup path as systemd names it.
  static std::string host_dir(const std::string& path) { return cgroup_ + path; }
  static const std::string& log() { return log_; }

 private:
  static inline pid_t pid_ = 0;
  static inline std::string cgroup_, log_;
};

}  // namespace vessel::runtime::test
