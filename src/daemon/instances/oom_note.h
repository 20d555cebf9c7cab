// Whether the kernel's OOM killer struck in a guest's cgroup during its last run (inspect's
// oom_killed, Docker's OOMKilled). The cgroup goes in the backend's cleanup() (the runtime's
// delete, or cgroup_remove for a VM), before the manager records the exit: so cleanup() first
// notes the cgroup's count in the instance directory, and the exit is recorded with it.
#pragma once

#include <string>

#include "daemon/instances/backend.h"

namespace vessel::daemon {

inline constexpr const char* kOomNoteFile = "oom_kills";

// Notes the count of the cgroup ctx.cgroup in ctx.dir; a cgroup already gone keeps the earlier note.
void note_oom_kills(const InstanceContext& ctx);
// Did the note of the run that ended say the OOM killer struck?
bool oom_noted(const std::string& instance_dir);
// A new run starts: the last run's note goes.
void forget_oom_note(const std::string& instance_dir);

}  // namespace vessel::daemon
