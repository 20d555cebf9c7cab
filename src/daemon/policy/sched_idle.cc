#include "daemon/policy/sched_idle.h"

#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "base/fd.h"
#include "runtime/cgroups/cgroup.h"

namespace vessel::daemon {

namespace {

namespace fs = std::filesystem;

// The member's cpu-controller directory ("" when it has none).
std::string cpu_dir(const std::string& path) {
  auto host = runtime::CgroupHost::detect();
  if (!host) return "";
  auto cg = runtime::Cgroup::plan(*host, path, {"cpu"});
  return cg ? cg->dir_for("cpu") : "";
}

// The processes of the group and of the groups below it (a container may nest its own).
std::vector<pid_t> processes_below(const std::string& dir) {
  std::vector<pid_t> out;
  std::error_code ec;
  std::vector<std::string> dirs{dir};
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) dirs.push_back(it->path().string());
  for (const auto& d : dirs) {
    auto text = read_file(d + "/cgroup.procs");
    if (!text) continue;
    std::istringstream in(*text);
    for (pid_t pid = 0; in >> pid;) out.push_back(pid);
  }
  return out;
}

std::vector<pid_t> threads_of(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec), end; !ec && it != end; it.increment(ec))
    out.push_back(static_cast<pid_t>(std::strtol(it->path().filename().c_str(), nullptr, 10)));
  return out;
}

}  // namespace

Result<size_t> set_threads_sched_idle(const std::vector<pid_t>& pids) {
  size_t set = 0;
  for (pid_t pid : pids)
    for (pid_t tid : threads_of(pid)) {
      sched_param none{};
      if (::sched_setscheduler(tid, SCHED_IDLE, &none) == 0) {
        ++set;
        continue;
      }
      if (errno == ESRCH) continue;  // gone meanwhile
      return fail(errno, "sched_setscheduler({}, SCHED_IDLE)", tid);
    }
  return set;
}

Result<std::string> apply_sched_idle(const std::string& path, bool best_effort) {
  std::string dir = cpu_dir(path);
  if (dir.empty()) return fail(ENOTSUP, "{}: no cpu controller on this host", path);
  if (::access((dir + "/cpu.idle").c_str(), F_OK) == 0) {
    TRY_CTX(write_file(dir + "/cpu.idle", best_effort ? "1" : "0"), "{}/cpu.idle", dir);
    return std::string("cpu.idle");
  }
  if (best_effort) TRY_CTX(set_threads_sched_idle(processes_below(dir)), "{}", path);
  return std::string("sched_setscheduler");
}

json::Json read_sched_idle(const std::string& path) {
  std::string dir = cpu_dir(path);
  if (dir.empty()) return nullptr;
  if (auto idle = read_file(dir + "/cpu.idle")) return {{"cpu.idle", std::strtol(idle->c_str(), nullptr, 10)}};
  size_t threads = 0, idle = 0;
  for (pid_t pid : processes_below(dir))
    for (pid_t tid : threads_of(pid)) {
      ++threads;
      idle += ::sched_getscheduler(tid) == SCHED_IDLE ? 1 : 0;
    }
  return {{"idle_threads", idle}, {"threads", threads}};
}

}  // namespace vessel::daemon
