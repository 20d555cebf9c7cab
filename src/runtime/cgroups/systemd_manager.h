// The calls the systemd cgroup driver makes to systemd's manager (org.freedesktop.systemd1) over
// D-Bus: root talks to systemd directly on /run/systemd/private (as systemctl does), anyone else
// through the system bus. Each call that queues a job waits for the job's JobRemoved signal, so
// the unit is started (its cgroup exists, its processes are in it) or stopped when it returns.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "runtime/cgroups/systemd_properties.h"

struct sd_bus;

namespace vessel::runtime {

struct SdBusLibrary;

class SystemdManager {
 public:
  static Result<SystemdManager> connect();
  SystemdManager(SystemdManager&& other) noexcept;
  SystemdManager& operator=(SystemdManager&&) = delete;
  ~SystemdManager();

  // StartTransientUnit(unit, "fail", properties) and the wait for its job. A unit of that name
  // that already exists is an error (another container with the same cgroupsPath).
  Result<void> start_transient_unit(const std::string& unit, const std::vector<UnitProperty>& properties);
  // StopUnit(unit, "replace") and the wait for its job; a unit systemd does not know (a scope
  // whose processes all exited is collected at once) is already stopped.
  Result<void> stop_unit(const std::string& unit);
  // SetUnitProperties(unit, runtime=true, properties): what `update` changes.
  Result<void> set_unit_properties(const std::string& unit, const std::vector<UnitProperty>& properties);

 private:
  SystemdManager(const SdBusLibrary* lib, sd_bus* bus) : lib_(lib), bus_(bus) {}
  // Calls a Manager method whose reply is a job path, then waits for that job; `build` appends
  // the arguments.
  template <typename Build>
  Result<void> run_job(const char* method, const std::string& unit, Build&& build);

  const SdBusLibrary* lib_;
  sd_bus* bus_;
};

}  // namespace vessel::runtime
