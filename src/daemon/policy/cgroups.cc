#include "daemon/policy/cgroups.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/fd.h"

namespace vessel::daemon {

namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";
constexpr uint64_t kPeriodUs = 100000;

bool unified() {
  struct statfs s;
  return ::statfs(kRoot, &s) == 0 && s.f_type == 0x63677270;  // CGROUP2_SUPER_MAGIC
}

Result<void> mkdirs(const std::string& base, const std::string& path) {
  std::string cur = base;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    cur += "/" + path.substr(pos, next - pos);
    if (::mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST) return fail_errno("mkdir {}", cur);
    pos = next + 1;
  }
  return {};
}

// On cgroup v2 a controller's files exist in a group only when every ancestor, the root included,
// enables it in cgroup.subtree_control; a fresh parent group enables nothing.
Result<void> enable_v2_controllers(const std::string& path) {
  std::string dir = kRoot;
  for (size_t pos = 1; pos < path.size();) {
    auto enabled = read_file(dir + "/cgroup.subtree_control");
    std::string words = " " + (enabled ? *enabled : std::string()) + " ";
    std::replace(words.begin(), words.end(), '\n', ' ');
    for (const char* controller : {"cpu", "memory"}) {
      if (words.find(fmt::format(" {} ", controller)) != std::string::npos) continue;
      TRY_CTX(write_file(dir + "/cgroup.subtree_control", std::string("+") + controller),
              "enable the {} controller for {}", controller, path);
    }
    size_t next = path.find('/', pos);
    if (next == std::string::npos) break;  // the group itself: its children are not ours to plan
    dir += "/" + path.substr(pos, next - pos);
    pos = next + 1;
  }
  return {};
}

uint64_t read_u64(const std::string& file) {
  auto text = read_file(file);
  if (!text) return 0;
  try {
    return std::stoull(*text);
  } catch (...) {
    return 0;
  }
}

}  // namespace

std::string cgroup_path(const std::string& parent, const std::string& name) { return "/" + parent + "/" + name; }

uint64_t weight_to_shares(uint32_t weight) {
  uint64_t shares = static_cast<uint64_t>(weight) * 1024 / 100;
  return shares < 2 ? 2 : shares;
}

Result<void> cgroup_place(const std::string& path, const CgroupLimits& l, pid_t pid) {
  std::string pid_text = std::to_string(pid);
  if (unified()) {
    std::string dir = std::string(kRoot) + path;
    TRY(mkdirs(kRoot, path));
    TRY(enable_v2_controllers(path));
    TRY(write_file(dir + "/memory.max", std::to_string(l.memory_mib << 20)));
    TRY(write_file(dir + "/cpu.max", fmt::format("{} {}", l.cpus * kPeriodUs, kPeriodUs)));
    TRY(write_file(dir + "/cpu.weight", std::to_string(l.cpu_weight)));
    TRY(write_file(dir + "/cgroup.procs", pid_text));
    return {};
  }
  auto ctl = [&](const char* controller) { return fmt::format("{}/{}{}", kRoot, controller, path); };
  TRY(mkdirs(std::string(kRoot) + "/memory", path));
  TRY(write_file(ctl("memory") + "/memory.limit_in_bytes", std::to_string(l.memory_mib << 20)));
  if (l.memory_reservation_mib)
    TRY(write_file(ctl("memory") + "/memory.soft_limit_in_bytes", std::to_string(l.memory_reservation_mib << 20)));
  TRY(mkdirs(std::string(kRoot) + "/cpu", path));
  TRY(write_file(ctl("cpu") + "/cpu.cfs_period_us", std::to_string(kPeriodUs)));
  TRY(write_file(ctl("cpu") + "/cpu.cfs_quota_us", std::to_string(l.cpus * kPeriodUs)));
  TRY(write_file(ctl("cpu") + "/cpu.shares", std::to_string(weight_to_shares(l.cpu_weight))));
  TRY(mkdirs(std::string(kRoot) + "/cpuacct", path));
  for (const char* c : {"memory", "cpu", "cpuacct"}) TRY(write_file(ctl(c) + "/cgroup.procs", pid_text));
  return {};
}

void cgroup_remove(const std::string& path) {
  if (unified()) {
    ::rmdir((std::string(kRoot) + path).c_str());
    return;
  }
  for (const char* c : {"memory", "cpu", "cpuacct", "pids", "freezer", "devices", "blkio", "cpuset", "hugetlb",
                        "net_cls", "perf_event"})
    ::rmdir(fmt::format("{}/{}{}", kRoot, c, path).c_str());
}

CgroupStats cgroup_stats(const std::string& path) {
  CgroupStats s;
  if (unified()) {
    std::string dir = std::string(kRoot) + path;
    s.found = ::access(dir.c_str(), F_OK) == 0;
    s.memory_bytes = read_u64(dir + "/memory.current");
    auto stat = read_file(dir + "/cpu.stat");
    if (stat) {
      auto p = stat->find("usage_usec ");
      if (p != std::string::npos) s.cpu_ns = std::stoull(stat->substr(p + 11)) * 1000;
    }
    return s;
  }
  std::string mem = fmt::format("{}/memory{}", kRoot, path);
  s.found = ::access(mem.c_str(), F_OK) == 0;
  s.memory_bytes = read_u64(mem + "/memory.usage_in_bytes");
  s.cpu_ns = read_u64(fmt::format("{}/cpuacct{}/cpuacct.usage", kRoot, path));
  return s;
}

}  // namespace vessel::daemon
