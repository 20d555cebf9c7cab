// linux.cgroupsPath in the systemd cgroup driver's form "slice:prefix:name" (runc's and crun's):
// the container's cgroup is the transient scope unit "prefix-name.scope" in the slice "slice".
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::runtime {

struct SystemdCgroupsPath {
  std::string slice;  // "machine.slice"; "system.slice" when the path leaves it empty
  std::string unit;   // "libpod-0123.scope"
};

// Whether a cgroupsPath is meant for the systemd driver: colons and no slash.
bool looks_like_systemd_path(std::string_view path);

// "slice:prefix:name" (prefix may be empty: "name.scope"). A malformed path or a name systemd
// would refuse as a unit name is an error that names the field.
Result<SystemdCgroupsPath> parse_systemd_cgroups_path(std::string_view path);

// The scope the systemd driver makes for a container whose cgroupsPath is empty.
Result<SystemdCgroupsPath> default_systemd_cgroups_path(std::string_view container_id);

// A slice's cgroup directory below systemd's root: "a-b.slice" -> "/a.slice/a-b.slice",
// "-.slice" (the root slice) -> "".
std::string expand_slice(std::string_view slice);

}  // namespace vessel::runtime
