// vesseld's cgroups are written by the runtime's cgroup code (runtime/cgroups/cgroup.h), limited to
// the hierarchies of the controllers vesseld sets: the same writer for containers and VMs.
#include "daemon/policy/cgroups.h"

#include <unistd.h>

#include <charconv>

#include "base/fd.h"
#include "runtime/cgroups/cgroup.h"
#include "runtime/cgroups/hurry_exit.h"

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

static std::vector<std::pair<std::string, std::string>> cgroup_files(bool v2, const CgroupLimits& l) {
  std::string memory = std::to_string(l.memory_mib << 20);
  std::string quota = std::to_string(l.cpus * kPeriodUs);
  if (v2)
    return {{"memory.max", memory}, {"cpu.max", fmt::format("{} {}", quota, kPeriodUs)}, {"cpu.weight", std::to_string(l.cpu_weight)}};
  std::vector<std::pair<std::string, std::string>> files{{"memory.limit_in_bytes", memory}};
  if (l.memory_reservation_mib) files.emplace_back("memory.soft_limit_in_bytes", std::to_string(l.memory_reservation_mib << 20));
  files.emplace_back("cpu.cfs_period_us", std::to_string(kPeriodUs));
  files.emplace_back("cpu.cfs_quota_us", quota);
  files.emplace_back("cpu.shares", std::to_string(weight_to_shares(l.cpu_weight)));
  // cpuacct may be a hierarchy of its own (not co-mounted with cpu): a file of it makes the
  // jailer join it too, and the CPU time `vessel stats` reads starts from zero.
  files.emplace_back("cpuacct.usage", "0");
  return files;
}

Result<CgroupSettings> cgroup_settings(const std::string& path, const CgroupLimits& limits) {
  runtime::Cgroup cg = TRY(plan(path, {"memory", "cpu", "cpuacct"}));
  CgroupSettings s;
  s.version = cg.is_v2("memory") ? 2 : 1;
  for (auto& [file, value] : cgroup_files(s.version == 2, limits)) s.files.push_back(file + "=" + value);
  return s;
}

Result<void> cgroup_place(const std::string& path, const CgroupLimits& l, pid_t pid) {
  runtime::Cgroup cg = TRY(plan(path, {"memory", "cpu", "cpuacct"}));
  TRY(cg.create());
  bool v2 = cg.is_v2("memory");
  if (v2) TRY(cg.enable_controllers({"cpu", "memory"}));
  for (const auto& [file, value] : cgroup_files(v2, l)) TRY(cg.write(file.substr(0, file.find('.')), file, value));
  return cg.add_process(pid);
}

void cgroup_remove(const std::string& path, bool wait_while_busy) {
  auto cg = plan(path, {"memory", "cpu", "cpuacct", "pids", "freezer", "devices", "blkio", "cpuset", "hugetlb",
                        "net_cls", "perf_event"});
  if (cg) (void)cg->destroy(wait_while_busy);
}

void cgroup_hurry_killed(const std::string& path, pid_t pid) {
  if (auto cg = plan(path, {"cpu"})) (void)runtime::hurry_killed(*cg, pid);
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

std::optional<uint64_t> parse_oom_kill_count(std::string_view text) {
  constexpr std::string_view key = "oom_kill ";
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.substr(0, key.size()) == key) {
      uint64_t n = 0;
      auto digits = line.substr(key.size());
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec == std::errc() && p == digits.data() + digits.size()) return n;
      return std::nullopt;
    }
    at = end + 1;
  }
  return std::nullopt;
}

std::optional<uint64_t> cgroup_oom_kills(const std::string& path) {
  auto cg = plan(path, {"memory"});
  if (!cg) return std::nullopt;
  std::string dir = cg->dir_for("memory");
  if (dir.empty()) return std::nullopt;
  auto text = read_file(dir + (cg->is_v2("memory") ? "/memory.events" : "/memory.oom_control"));
  return text ? parse_oom_kill_count(*text) : std::nullopt;
}

}  // namespace vessel::daemon
