#include "daemon/watchdog/cgroup_sweep.h"

#include <dirent.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "base/fd.h"
#include "base/log.h"
#include "runtime/cgroups/cgroup.h"

namespace vessel::daemon::watchdog {
namespace {

std::set<pid_t> listed(const std::string& dir) {
  std::set<pid_t> out;
  auto text = read_file(dir + "/cgroup.procs");
  if (!text) return out;  // gone (ENOENT) or never made: nothing in it
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    pid_t pid = static_cast<pid_t>(std::atol(text->c_str() + pos));
    if (pid > 0) out.insert(pid);
    pos = end + 1;
  }
  return out;
}

// `dir` and every group below it (a container may make its own).
void walk(const std::string& dir, std::vector<std::string>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  out.push_back(dir);
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (e->d_type == DT_DIR && name != "." && name != "..") walk(dir + "/" + name, out);
  }
  ::closedir(d);
}

// SIGKILL to each member through a pidfd opened while it was listed, and only if it is still
// listed after the pidfd was opened: a PID freed and reused meanwhile is never signalled.
void kill_members(const std::string& dir, const std::set<pid_t>& pids, std::set<pid_t>& signalled) {
  std::vector<std::pair<pid_t, Fd>> opened;
  for (pid_t pid : pids) {
    Fd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (fd) opened.emplace_back(pid, std::move(fd));
  }
  auto still = listed(dir);
  for (const auto& [pid, fd] : opened)
    if (still.count(pid) && ::syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0) == 0) signalled.insert(pid);
}

// cgroup v2's own kill (Linux 5.14): the group and its descendants, forks racing it included.
void kill_v2(const std::string& dir) {
  if (::access((dir + "/cgroup.kill").c_str(), W_OK) == 0) (void)write_file(dir + "/cgroup.kill", "1");
}

// A v1 freezer group keeps a killed member frozen, alive: thawed, it dies.
void thaw_v1(const std::string& dir) {
  auto state = read_file(dir + "/freezer.state");
  if (state && state->rfind("THAWED", 0) != 0) (void)write_file(dir + "/freezer.state", "THAWED");
}

}  // namespace

std::vector<std::string> cgroup_dirs(const std::vector<std::string>& paths) {
  std::vector<std::string> dirs;
  auto host = runtime::CgroupHost::detect();
  if (!host) {
    log::error("cgroups: {}", host.error().to_string());
    return dirs;
  }
  for (const auto& path : paths) {
    auto planned = runtime::Cgroup::plan(*host, path);
    if (!planned) continue;  // absolute paths: plan reads nothing and cannot fail
    for (const auto& [name, dir] : planned->dirs()) dirs.push_back(dir);
  }
  return dirs;
}

SweepResult sweep_cgroups(const std::vector<std::string>& paths, std::chrono::milliseconds patience) {
  SweepResult result;
  if (paths.empty()) return result;
  auto roots = cgroup_dirs(paths);
  for (const auto& dir : roots)
    if (::access((dir + "/cgroup.kill").c_str(), F_OK) == 0) kill_v2(dir);
  auto until = std::chrono::steady_clock::now() + patience;
  std::set<pid_t> signalled;
  for (;;) {
    std::vector<std::string> groups;
    for (const auto& dir : roots) walk(dir, groups);
    std::vector<std::string> busy;
    for (const auto& dir : groups) {
      auto pids = listed(dir);
      if (pids.empty()) continue;
      busy.push_back(dir);
      kill_members(dir, pids, signalled);
      thaw_v1(dir);
    }
    result.killed = signalled.size();
    if (busy.empty()) return result;
    if (std::chrono::steady_clock::now() >= until) {
      result.left = std::move(busy);
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace vessel::daemon::watchdog
