#include "daemon/policy/requeue_groups.h"

#include "base/log.h"
#include "runtime/cgroups/cgroup.h"

namespace vessel::daemon {

size_t requeue_groups(const std::vector<std::string>& cgroups) {
  auto host = runtime::CgroupHost::detect();
  if (!host) return 0;
  std::vector<runtime::Cgroup> frozen;
  for (const auto& path : cgroups) {
    auto cg = runtime::Cgroup::plan(*host, path, {"freezer"});
    if (!cg || !cg->has_freezer() || cg->frozen().value_or(true)) continue;  // a paused one stays so
    if (auto done = cg->set_frozen(true); !done) {
      log::info("{}: not requeued: {}", path, done.error().to_string());
      (void)cg->set_frozen(false);
      continue;
    }
    frozen.push_back(std::move(*cg));
  }
  for (const auto& cg : frozen)
    if (auto thawed = cg.set_frozen(false); !thawed)
      log::warn("a pool member stays frozen after its requeue: {}", thawed.error().to_string());
  return frozen.size();
}

}  // namespace vessel::daemon
