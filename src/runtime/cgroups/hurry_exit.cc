#include "runtime/cgroups/hurry_exit.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "base/fd.h"

namespace vessel::runtime {

namespace {

namespace fs = std::filesystem;

// The group's directory that lists its processes, and every directory below it.
std::vector<std::string> process_dirs(const Cgroup& cg) {
  std::string top;
  for (const char* c : {"cpu", "pids", "freezer", "memory"})
    if (top = cg.dir_for(c); !top.empty()) break;
  if (top.empty() && !cg.dirs().empty()) top = cg.dirs().begin()->second;
  std::vector<std::string> out;
  if (top.empty()) return out;
  out.push_back(top);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(top, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) out.push_back(it->path().string());
  return out;
}

std::vector<pid_t> numbers_in(const std::string& text) {
  std::vector<pid_t> out;
  std::istringstream in(text);
  for (pid_t n = 0; in >> n;) out.push_back(n);
  return out;
}

size_t raise_threads(pid_t pid) {
  size_t raised = 0;
  std::error_code ec;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec), end; !ec && it != end; it.increment(ec)) {
    auto tid = static_cast<pid_t>(std::strtol(it->path().filename().c_str(), nullptr, 10));
    sched_param lowest{};
    lowest.sched_priority = sched_get_priority_min(SCHED_FIFO);
    if (tid > 0 && ::sched_setscheduler(tid, SCHED_FIFO, &lowest) == 0) ++raised;
  }
  return raised;
}

// No quota and not idle: what is left of the group's CPU limits once its processes are dying.
void lift_cpu_limits(const Cgroup& cg) {
  std::string dir = cg.dir_for("cpu");
  if (dir.empty()) return;
  if (cg.is_v2("cpu")) {
    (void)write_file(dir + "/cpu.max", "max");
  } else {
    (void)write_file(dir + "/cpu.cfs_quota_us", "-1");
  }
  if (::access((dir + "/cpu.idle").c_str(), F_OK) == 0) (void)write_file(dir + "/cpu.idle", "0");
}

}  // namespace

size_t kill_and_hurry(const Cgroup& cg) {
  size_t raised = 0;
  for (const auto& dir : process_dirs(cg)) {
    auto procs = read_file(dir + "/cgroup.procs");
    if (!procs) continue;
    for (pid_t pid : numbers_in(*procs)) {
      if (pid <= 0 || ::kill(pid, SIGKILL) != 0) continue;  // gone already
      raised += raise_threads(pid);
    }
  }
  lift_cpu_limits(cg);
  return raised;
}

size_t hurry_killed(const Cgroup& cg, pid_t pid) {
  lift_cpu_limits(cg);
  return raise_threads(pid);
}

}  // namespace vessel::runtime
