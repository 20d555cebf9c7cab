// A guest's process (vessel-vmm, or a container's init) that vesseld does not own as a child:
// identified by PID plus its start time, so that a PID reused after a crash is never adopted,
// signalled or waited on by mistake; watched through a pidfd.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::daemon {

// Field 22 of /proc/PID/stat (clock ticks since boot); ENOENT when the process is gone.
Result<int64_t> process_start_time(pid_t pid);

struct GuestProcess {
  pid_t pid = 0;
  int64_t start_time = 0;
  Fd pidfd;
  // The wait status, once reaped, when the process was our child (vessel-vmm started by this
  // vesseld); an adopted process's status is learnt from its exit file instead.
  mutable std::optional<int> wait_status;

  // Opens a pidfd for (pid, start_time); ESRCH when that process no longer exists (exited, or
  // the PID now belongs to another process).
  static Result<GuestProcess> adopt(pid_t pid, int64_t start_time);
  // Opens a pidfd for a PID just learnt (its start time is read now).
  static Result<GuestProcess> attach(pid_t pid);

  bool alive() const;
  Result<void> signal(int signo) const;
  // Waits up to `timeout` for exit; true when it exited. Reaps it if it is our child.
  bool wait_exit(std::chrono::milliseconds timeout) const;
};

}  // namespace vessel::daemon
