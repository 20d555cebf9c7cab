#include "daemon/policy/slice_cgroups.h"

#include <unistd.h>

#include "runtime/cgroups/cgroup.h"

namespace vessel::daemon {

Result<void> write_cpu_limit(const LimitWrite& w) {
  auto host = TRY(runtime::CgroupHost::detect());
  auto cg = TRY(runtime::Cgroup::plan(host, w.cgroup, {"cpu"}));
  std::string dir = cg.dir_for("cpu");
  if (dir.empty() || ::access(dir.c_str(), F_OK) != 0) return fail(ENOENT, "member cgroup {} does not exist", w.cgroup);
  for (const auto& [file, value] : cpu_limit_files(w, cg.is_v2("cpu") ? 2 : 1))
    TRY_CTX(cg.write("cpu", file, value), "{}", w.cgroup);
  return {};
}

}  // namespace vessel::daemon
