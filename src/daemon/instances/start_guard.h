// Told by the Manager around each start of an instance's processes (a start, a restart, a resume
// or restore from a saved state), before the first process exists: the cluster's fence
// (cluster_fence.h) publishes a clustered copy's cgroup to the node's watchdog at that point, so
// that vesseld killed in the middle of the start leaves nothing the watchdog does not know of
// (docs/cluster.md#the-watchdog).
#pragma once

#include <string>

#include "base/error.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {

class StartGuard {
 public:
  virtual ~StartGuard() = default;
  // Before the first process of `name` is made, in `cgroup` (Manager::cgroup_of). An error refuses
  // the start (and is its error).
  virtual Result<void> starting(const std::string& name, const InstanceSpec& spec, const std::string& cgroup) = 0;
  // After the start, whether it succeeded or not (a success is recorded as running by then).
  virtual void started(const std::string& name) = 0;
};

// A test hook, for tests only (tests/integration/cluster/watchdog_test.cc): with the environment
// variable VESSEL_TEST_DIE_AT=POINT:NAME, vesseld kills itself (SIGKILL) when instance NAME's start
// reaches POINT. The point "after-launch": its processes run, nothing has recorded them yet.
void test_hook_die_at(const char* point, const std::string& name);

}  // namespace vessel::daemon
