#include "daemon/instances/oom_note.h"

#include <unistd.h>

#include <cstdlib>

#include "base/fd.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

namespace {

std::string note_path(const std::string& dir) { return dir + "/" + kOomNoteFile; }

}  // namespace

void note_oom_kills(const InstanceContext& ctx) {
  if (ctx.cgroup.empty()) return;
  auto kills = cgroup_oom_kills(ctx.cgroup);
  if (!kills) return;
  (void)write_file(note_path(ctx.dir), std::to_string(*kills) + "\n");
}

bool oom_noted(const std::string& instance_dir) {
  auto text = read_file(note_path(instance_dir));
  return text && std::strtoull(text->c_str(), nullptr, 10) > 0;
}

void forget_oom_note(const std::string& instance_dir) { ::unlink(note_path(instance_dir).c_str()); }

}  // namespace vessel::daemon
