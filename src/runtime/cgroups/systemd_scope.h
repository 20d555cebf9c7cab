// The systemd cgroup driver (--systemd-cgroup): a container's cgroup is a transient scope unit
// that systemd creates over D-Bus with the container's first process in it (Delegate=yes: the
// runtime may write the scope's cgroup files), its resources as unit properties; delete stops it.
// Only this file and systemd_manager.cc talk to systemd; nothing here runs for cgroupfs.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "base/error.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

struct SystemdScope {
  std::string unit;         // "libpod-ID.scope"
  std::string slice;        // "machine.slice"
  std::string cgroup_path;  // where systemd will put it: "/machine.slice/libpod-ID.scope"
};

// Fails, saying to use the cgroupfs driver, unless systemd manages this host (sd_booted()'s
// test: the directory /run/systemd/system exists).
Result<void> require_systemd();

// The scope for linux.cgroupsPath ("slice:prefix:name", or empty: vessel-runtime-ID.scope in
// system.slice) and the cgroup path it will have, below systemd's own root cgroup.
Result<SystemdScope> plan_systemd_scope(const std::string& cgroups_path, const std::string& id);

// Starts the scope with `pid` in it and `resources` as properties; `unified`: pure cgroup v2.
// Returns once systemd has moved the process into the scope's cgroup.
Result<void> start_systemd_scope(const SystemdScope& scope, const std::string& id, pid_t pid,
                                 const std::optional<Resources>& resources, bool unified);

// Stops the scope; one systemd no longer knows is fine.
Result<void> stop_systemd_scope(const std::string& unit);

// `update`: the new limits as properties of the running scope.
Result<void> update_systemd_scope(const std::string& unit, const Resources& resources, bool unified);

// The cgroup systemd tracks `pid` in: its name=systemd (v1, hybrid) or unified line of
// /proc/PID/cgroup.
Result<std::string> systemd_cgroup_of(pid_t pid);

}  // namespace vessel::runtime
