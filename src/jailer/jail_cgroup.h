// The jail's cgroup (vessel-jailer, step 3 of its --help): v1 (one hierarchy per controller) or
// v2 (the unified hierarchy, wherever it is mounted: /sys/fs/cgroup or, on a hybrid host,
// /sys/fs/cgroup/unified).
#pragma once

#include <sys/types.h>

#include "base/error.h"
#include "jailer/jail_options.h"

namespace vessel::jailer {

// Creates PARENT/ID, writes every --cgroup FILE=VALUE and moves `pid` into it. Nothing without
// --cgroup. Returns the cgroup directories it used (for the messages).
Result<std::vector<std::string>> join_cgroup(const JailOptions& o, pid_t pid);

}  // namespace vessel::jailer
