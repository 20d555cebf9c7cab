#include "daemon/policy/pool_cgroups.h"

#include <unistd.h>

#include "base/fd.h"
#include "daemon/policy/cgroup_values.h"
#include "runtime/cgroups/cgroup.h"

namespace vessel::daemon {

namespace {

Result<runtime::Cgroup> plan(const std::string& path) {
  auto host = TRY(runtime::CgroupHost::detect());
  return runtime::Cgroup::plan(host, path, {"memory", "cpu", "cpuacct", "cpuset"});
}

std::string parent_of(const std::string& dir) { return dir.substr(0, dir.rfind('/')); }

std::string trimmed(std::string v) {
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

// cpuset.cpus (and, on v1, cpuset.mems, which a new group lacks): `cpus` or the parent's.
Result<void> write_cpuset(const runtime::Cgroup& cg, const std::string& cpus) {
  std::string dir = cg.dir_for("cpuset");
  if (dir.empty()) return cpus.empty() ? Result<void>{} : fail(ENOTSUP, "no cpuset controller on this host");
  if (!cg.is_v2("cpuset") && trimmed(read_file(dir + "/cpuset.mems").value_or("")).empty())
    TRY(cg.write("cpuset", "cpuset.mems", trimmed(read_file(parent_of(dir) + "/cpuset.mems").value_or("0"))));
  std::string value = cpus;
  if (value.empty() && !cg.is_v2("cpuset")) value = trimmed(read_file(parent_of(dir) + "/cpuset.cpus").value_or(""));
  if (value.empty()) return {};  // v2: empty = the parent's
  return cg.write("cpuset", "cpuset.cpus", value);
}

std::string controller_of(const std::string& file) { return file.substr(0, file.find('.')); }

// The plan's files, each in the version of the hierarchy that owns its controller.
std::vector<std::pair<std::string, std::string>> files_for(const runtime::Cgroup& cg, const CgroupPlan& p, bool keep_own) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* controller : {"cpu", "memory"}) {
    if (cg.dir_for(controller).empty()) continue;
    for (auto& [file, value] : cgroup_values(p, cg.is_v2(controller) ? 2 : 1, keep_own))
      if (controller_of(file) == controller) out.emplace_back(file, value);
  }
  return out;
}

}  // namespace

Result<void> apply_pool_cgroup(const std::string& path, const Resources& size, const std::string& cpuset) {
  auto cg = TRY(plan(path));
  TRY(cg.create());
  if (cg.is_v2("memory") || cg.is_v2("cpu")) TRY(cg.enable_controllers({"cpu", "memory"}));
  if (!cpuset.empty() && cg.is_v2("cpuset")) TRY(cg.enable_controllers({"cpuset"}));
  TRY_CTX(write_cpuset(cg, cpuset), "pool cgroup {}: cpuset", path);
  CgroupPlan limits{100, size.cpus, 0, 0, std::nullopt, size.memory_bytes};
  for (const auto& [file, value] : files_for(cg, limits, false))
    TRY_CTX(cg.write(controller_of(file), file, value), "pool cgroup {}", path);
  // v2: the members' files (cpu.weight, memory.low, ...) exist only with the controllers enabled here.
  for (const char* controller : {"cpu", "memory", "cpuset"})
    if (cg.is_v2(controller) && (controller != std::string("cpuset") || !cpuset.empty()))
      (void)cg.write(controller, "cgroup.subtree_control", std::string("+") + controller);
  return {};
}

Result<void> apply_member_cgroup(const std::string& path, const CgroupPlan& p, const std::string& cpuset, pid_t pid) {
  auto cg = TRY(plan(path));
  std::string dir = cg.dir_for("cpu");
  if (dir.empty() || ::access(dir.c_str(), F_OK) != 0) return fail(ENOENT, "member cgroup {} does not exist", path);
  std::string cpuset_dir = cg.dir_for("cpuset");
  if (!cpuset.empty() && !cpuset_dir.empty() && !cg.is_v2("cpuset")) {
    bool joined = ::access(cpuset_dir.c_str(), F_OK) == 0;
    if (!joined) TRY_CTX(cg.create(), "{}: cpuset", path);
    TRY_CTX(write_cpuset(cg, cpuset), "{}: cpuset", path);
    if (!joined && pid > 0) TRY_CTX(cg.write("cpuset", "cgroup.procs", std::to_string(pid)), "{}: join its cpuset", path);
  }
  for (const auto& [file, value] : files_for(cg, p, true)) {
    auto written = cg.write(controller_of(file), file, value);
    // A kernel without a file (memory.min before 4.18...) does not stop the others.
    if (!written && written.error().errnum() != ENOENT) return Unexpected(std::move(written).error().add_context(path));
  }
  return {};
}

void remove_pool_cgroup(const std::string& path) {
  auto host = runtime::CgroupHost::detect();
  if (!host) return;
  auto cg = runtime::Cgroup::plan(*host, path);
  if (cg) (void)cg->destroy(/*wait_while_busy=*/false);
}

json::Json read_member_cgroup(const std::string& path) {
  json::Json out = json::Json::object();
  auto cg = plan(path);
  if (!cg) return out;
  for (const auto& [file, value] : files_for(*cg, CgroupPlan{100, 1.0, 0, 0, 0, 0}, false)) {
    auto text = read_file(cg->dir_for(controller_of(file)) + "/" + file);
    if (!text) continue;
    out[file] = trimmed(*text);
  }
  if (std::string dir = cg->dir_for("cpuset"); !dir.empty())
    if (auto cpus = read_file(dir + "/cpuset.cpus.effective"); cpus || (cpus = read_file(dir + "/cpuset.cpus")))
      out["cpuset.cpus"] = trimmed(*cpus);
  return out;
}

}  // namespace vessel::daemon
