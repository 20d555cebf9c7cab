// vesseld's cgroups are written by the runtime's cgroup code (runtime/cgroups/cgroup.h), limited to
// the hierarchies of the controllers vesseld sets: the same writer for containers and VMs.
#include "daemon/policy/cgroups.h"

#include <unistd.h>

#include "runtime/cgroups/cgroup.h"

namespace vessel::daemon {

namespace {

constexpr uint64_t kPeriodUs = 100000;

Result<runtime::Cgroup> plan(const std::string& path, const std::vector<std::string>& controllers) {
  auto host = TRY(runtime::CgroupHost::detect());
  return runtime::Cgroup::plan(host, path, controllers);
}

}  // namespace

std::string cgroup_path(const std::string& parent, const std::string& name) { return "/" + parent + "/" + name; }

uint64_t weight_to_shares(uint32_t weight) {
  uint64_t shares = static_cast<uint64_t>(weight) * 1024 / 100;
  return shares < 2 ? 2 : shares;
}

Result<void> cgroup_place(const std::string& path, const CgroupLimits& l, pid_t pid) {
  runtime::Cgroup cg = TRY(plan(path, {"memory", "cpu", "cpuacct"}));
  TRY(cg.create());
  std::string memory = std::to_string(l.memory_mib << 20);
  std::string quota = std::to_string(l.cpus * kPeriodUs);
  if (cg.is_v2("memory")) {
    TRY(cg.enable_controllers({"cpu", "memory"}));
    TRY(cg.write("memory", "memory.max", memory));
    TRY(cg.write("cpu", "cpu.max", fmt::format("{} {}", quota, kPeriodUs)));
    TRY(cg.write("cpu", "cpu.weight", std::to_string(l.cpu_weight)));
  } else {
    TRY(cg.write("memory", "memory.limit_in_bytes", memory));
    if (l.memory_reservation_mib)
      TRY(cg.write("memory", "memory.soft_limit_in_bytes", std::to_string(l.memory_reservation_mib << 20)));
    TRY(cg.write("cpu", "cpu.cfs_period_us", std::to_string(kPeriodUs)));
    TRY(cg.write("cpu", "cpu.cfs_quota_us", quota));
    TRY(cg.write("cpu", "cpu.shares", std::to_string(weight_to_shares(l.cpu_weight))));
  }
  return cg.add_process(pid);
}

void cgroup_remove(const std::string& path) {
  auto cg = plan(path, {"memory", "cpu", "cpuacct", "pids", "freezer", "devices", "blkio", "cpuset", "hugetlb",
                        "net_cls", "perf_event"});
  if (cg) (void)cg->destroy(false);
}

CgroupStats cgroup_stats(const std::string& path) {
  CgroupStats s;
  auto cg = plan(path, {"memory", "cpu", "cpuacct"});
  if (!cg) return s;
  std::string memory = cg->dir_for("memory");
  s.found = !memory.empty() && ::access(memory.c_str(), F_OK) == 0;
  json::Json stats = cg->stats();
  if (stats.contains("memory")) s.memory_bytes = stats["memory"]["usage"]["usage"].get<uint64_t>();
  if (stats.contains("cpu")) s.cpu_ns = stats["cpu"]["usage"]["total"].get<uint64_t>();
  return s;
}

}  // namespace vessel::daemon
