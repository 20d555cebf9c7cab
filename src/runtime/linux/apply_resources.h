// linux.resources into a container's cgroup, with the devices every container keeps (create and
// restore share it).
#pragma once

#include "base/error.h"
#include "runtime/cgroups/cgroup.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

Result<void> apply_resources(const Cgroup& cgroup, const Spec& spec);

}  // namespace vessel::runtime
