#include "runtime/cgroups/systemd_scope.h"

#include <unistd.h>

#include <sstream>

#include "base/fd.h"

#include "runtime/cgroups/systemd_manager.h"
#include "runtime/cgroups/systemd_properties.h"
#include "runtime/spec/systemd_path.h"

namespace vessel::runtime {

namespace {

constexpr const char* kSystemdRunDir = "/run/systemd/system";

std::string pid1_name() {
  auto comm = read_file("/proc/1/comm");
  std::string name = comm ? *comm : "?";
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

// systemd's root cgroup: where its PID 1 is, less "/init.scope" (not "/" when systemd itself
// runs in a container without a cgroup namespace).
Result<std::string> systemd_root() {
  std::string own = TRY_CTX(systemd_cgroup_of(1), "find systemd's root cgroup");
  constexpr std::string_view init = "/init.scope";
  if (own.size() >= init.size() && own.compare(own.size() - init.size(), init.size(), init) == 0)
    own.resize(own.size() - init.size());
  return own == "/" ? std::string() : own;
}

}  // namespace

Result<void> require_systemd() {
  if (access(kSystemdRunDir, F_OK) == 0) return {};
  return hinted(fail(ENOTSUP, "--systemd-cgroup: systemd is not running on this host (PID 1 is \"{}\", no {})",
                     pid1_name(), kSystemdRunDir),
                "use the cgroupfs driver: drop --systemd-cgroup (podman: --cgroup-manager=cgroupfs; "
                "containerd: SystemdCgroup = false)");
}

Result<std::string> systemd_cgroup_of(pid_t pid) {
  auto text = TRY(read_file(fmt::format("/proc/{}/cgroup", pid)));
  std::string unified;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':');
    auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1);
    if (controllers == "name=systemd") return line.substr(b + 1);
    if (line.compare(0, 3, "0::") == 0) unified = line.substr(b + 1);
  }
  if (unified.empty()) return fail(ENOENT, "process {} is in no name=systemd or cgroup v2 hierarchy", pid);
  return unified;
}

Result<SystemdScope> plan_systemd_scope(const std::string& cgroups_path, const std::string& id) {
  if (!cgroups_path.empty() && !looks_like_systemd_path(cgroups_path))
    return hinted(fail(EINVAL, "linux.cgroupsPath: \"{}\" is a cgroupfs path", cgroups_path),
                  "the systemd driver takes slice:prefix:name; drop --systemd-cgroup for a cgroupfs path");
  SystemdCgroupsPath p = TRY(cgroups_path.empty() ? default_systemd_cgroups_path(id) : parse_systemd_cgroups_path(cgroups_path));
  std::string root = TRY(systemd_root());
  std::string path = root + expand_slice(p.slice) + "/" + p.unit;
  return SystemdScope{p.unit, p.slice, path};
}

Result<void> start_systemd_scope(const SystemdScope& scope, const std::string& id, pid_t pid,
                                 const std::optional<Resources>& resources, bool unified) {
  std::vector<UnitProperty> properties = {
      {"Description", "vessel-runtime container " + id},
      {"Slice", scope.slice},
      {"Delegate", true},
      {"PIDs", std::vector<uint32_t>{static_cast<uint32_t>(pid)}},
      // A container's scope has no place in boot or shutdown ordering.
      {"DefaultDependencies", false},
      // Unloaded when it ends, failed or not: a failed scope would keep its name taken.
      {"CollectMode", std::string("inactive-or-failed")},
      // Accounting on, so that `events --stats` reads the same numbers whatever the limits.
      {"CPUAccounting", true},
      {"MemoryAccounting", true},
      {"TasksAccounting", true},
      {"IOAccounting", true},
  };
  if (resources)
    for (auto& p : TRY_CTX(resource_properties(*resources, unified), "linux.resources")) properties.push_back(std::move(p));
  SystemdManager manager = TRY(SystemdManager::connect());
  auto started = manager.start_transient_unit(scope.unit, properties);
  // A job that failed or timed out may leave the unit behind; one of that name that existed
  // before (EEXIST) is another container's.
  if (!started && started.error().errnum() != EEXIST) (void)manager.stop_unit(scope.unit);
  return started;
}

Result<void> stop_systemd_scope(const std::string& unit) {
  SystemdManager manager = TRY(SystemdManager::connect());
  return manager.stop_unit(unit);
}

Result<void> update_systemd_scope(const std::string& unit, const Resources& resources, bool unified) {
  auto properties = TRY_CTX(resource_properties(resources, unified), "update");
  if (properties.empty()) return {};
  SystemdManager manager = TRY(SystemdManager::connect());
  return manager.set_unit_properties(unit, properties);
}

}  // namespace vessel::runtime
