// Waits for a child while forwarding the signals we receive to it (run and exec in the
// foreground). Returns the shell-style status: the exit code, or 128 + signal.
#pragma once

#include <sys/types.h>

#include "base/error.h"

namespace vessel::runtime {

Result<int> wait_forwarding_signals(pid_t child);

}  // namespace vessel::runtime
