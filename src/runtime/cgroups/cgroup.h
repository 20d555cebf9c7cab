// A container's cgroup across every hierarchy of the host: cgroup v1 (one hierarchy per
// controller), v2 (unified) or the hybrid layout (v1 controllers plus a cgroup2 mount at
// /sys/fs/cgroup/unified, possibly with a controller bound to it). crun refuses hybrid hosts with
// controllers on cgroup2; we put each resource in whichever hierarchy owns its controller.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

struct Hierarchy {
  std::string mountpoint;
  std::vector<std::string> controllers;  // v1: from mount options; v2: cgroup.controllers
  bool v2 = false;
  std::string name;  // key: "memory", "cpu,cpuacct", "name=systemd", "unified"
};

enum class CgroupLayout { V1, Hybrid, V2 };

// The cgroup hierarchies mounted in this mount namespace.
struct CgroupHost {
  CgroupLayout layout = CgroupLayout::V1;
  std::vector<Hierarchy> hierarchies;
  static Result<CgroupHost> detect();
};

const char* layout_name(CgroupLayout layout);

class Cgroup {
 public:
  Cgroup() = default;
  // Paths of the container's cgroup: absolute cgroupsPath below each hierarchy's root, a
  // relative one below the runtime's own cgroup in that hierarchy.
  // With `controllers`, only the hierarchies that own one of them (and the unified one on a pure
  // v2 host): vesseld's groups for vessel-vmm live in memory, cpu and cpuacct only.
  static Result<Cgroup> plan(const CgroupHost& host, const std::string& cgroups_path,
                             const std::vector<std::string>& controllers = {});
  // From the paths saved in the container's state.
  static Cgroup from_json(const json::Json& j);
  json::Json to_json() const;

  // mkdir in every hierarchy (cpuset cpus/mems copied from the parent on v1).
  Result<void> create();
  // v2: enables `controllers` in cgroup.subtree_control from the hierarchy's root down to the
  // group's parent, so that their files exist in the group. Only for a planned (not loaded) group.
  Result<void> enable_controllers(const std::vector<std::string>& controllers) const;
  Result<void> add_process(pid_t pid) const;
  // One file of the hierarchy that owns `controller` (ENOTSUP when none does).
  Result<void> write(const std::string& controller, const std::string& file, const std::string& value) const;
  // Whether `controller` is in the unified (v2) hierarchy.
  bool is_v2(const std::string& controller) const { return dir_for(controller) == unified_dir(); }
  Result<void> apply(const Resources& r) const;
  // v1: devices.allow/deny; v2: an eBPF program (device_filter.h).
  Result<void> apply_devices(const std::vector<DeviceRule>& rules) const;
  Result<void> set_frozen(bool frozen) const;
  Result<bool> frozen() const;
  bool has_freezer() const;
  // The directory whose freezer set_frozen() drives: v1's freezer, else the unified one ("" when
  // neither). CRIU's --freeze-cgroup takes it.
  std::string freezer_dir() const;
  Result<std::vector<pid_t>> pids() const;
  // Sends a signal to every process; with SIGKILL waits until the cgroup is empty.
  Result<void> kill_all(int signo) const;
  // rmdir in every hierarchy; a missing directory is fine. A busy one is retried for a second,
  // unless `wait_while_busy` is false.
  Result<void> destroy(bool wait_while_busy = true) const;
  json::Json stats() const;
  bool empty() const { return dirs_.empty(); }
  CgroupLayout layout() const { return layout_; }
  const std::map<std::string, std::string>& dirs() const { return dirs_; }

  // Directory of the hierarchy that owns `controller` ("" when it is not available).
  std::string dir_for(const std::string& controller) const;

 private:
  std::string unified_dir() const;

  CgroupLayout layout_ = CgroupLayout::V1;
  std::map<std::string, std::string> dirs_;                     // hierarchy name -> directory
  std::map<std::string, std::vector<std::string>> controllers_;  // hierarchy name -> controllers
  std::vector<std::string> created_;                             // directories we made
  std::map<std::string, std::string> roots_;                     // hierarchy name -> mountpoint (planned)
};

}  // namespace vessel::runtime
