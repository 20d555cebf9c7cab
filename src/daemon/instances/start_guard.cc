#include "daemon/instances/start_guard.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "base/log.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

void Manager::set_start_guard(StartGuard* guard) {
  std::unique_lock lock(guard_mutex_);
  guard_ = guard;
}

Result<std::unique_ptr<Manager::ToldStart>> Manager::tell_start(const std::string& name, const InstanceSpec& spec,
                                                                 const std::string& cgroup) {
  auto told = std::make_unique<ToldStart>();
  told->lock = std::shared_lock(guard_mutex_);
  if (!guard_) return told;
  TRY(guard_->starting(name, spec, cgroup));
  told->guard = guard_;
  told->name = name;
  return told;
}

void test_hook_die_at(const char* point, const std::string& name) {
  const char* at = std::getenv("VESSEL_TEST_DIE_AT");
  if (!at || std::string(at) != std::string(point) + ":" + name) return;
  log::warn("test hook VESSEL_TEST_DIE_AT={}: vesseld kills itself", at);
  ::kill(::getpid(), SIGKILL);
}

}  // namespace vessel::daemon
