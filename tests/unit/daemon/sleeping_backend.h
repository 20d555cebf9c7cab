// A Backend for the manager's and the API's unit tests: each guest is a `sleep 1000` process
// (a real pid for the exit monitor), stopped by SIGKILL; pause, resume and cleanup do nothing,
// probe says running, exec echoes its first word. Tests derive from it for what they look at.
#pragma once

#include <signal.h>

#include "base/process.h"
#include "daemon/instances/backend.h"

namespace vessel::daemon {

class SleepingBackend : public Backend {
 public:
  Result<GuestProcess> start(const InstanceContext&, const BootSource&) override { return spawn(); }
  Result<void> stop(const InstanceContext&, const GuestProcess& proc, std::chrono::seconds) override {
    (void)proc.signal(SIGKILL);
    proc.wait_exit(std::chrono::seconds(5));
    return {};
  }
  Result<void> pause(const InstanceContext&, const GuestProcess&) override { return {}; }
  Result<void> resume(const InstanceContext&, const GuestProcess&) override { return {}; }
  void cleanup(const InstanceContext&) override {}
  Result<State> probe(const InstanceContext&, const GuestProcess&) override { return State::Running; }
  Result<ExecResult> exec(const InstanceContext&, const std::vector<std::string>& argv) override {
    return ExecResult{0, argv.empty() ? std::string() : argv[0]};
  }

 protected:
  static Result<GuestProcess> spawn() {
    auto p = TRY(Process::spawn({"/bin/sleep", "1000"}));
    auto g = GuestProcess::attach(p.pid());
    p.detach();
    return g;
  }
};

}  // namespace vessel::daemon
