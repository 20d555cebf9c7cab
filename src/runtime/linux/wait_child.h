// Waits for a child while forwarding the signals we receive to it (run and exec in the
// foreground). Returns the shell-style status: the exit code, or 128 + signal.
#pragma once

#include <sys/types.h>

#include <utility>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::runtime {

// With pty_master >= 0, also copies our stdin to the pty and the pty to our stdout (run/exec
// with a terminal but no --console-socket, like runc).
Result<int> wait_forwarding_signals(pid_t child, int pty_master = -1);

// A console socket we receive the pty master on ourselves: {our end, the end for the child}.
Result<std::pair<Fd, Fd>> self_console_pair();
// Receives the pty master sent over our end.
Result<Fd> receive_pty_master(int sock);

}  // namespace vessel::runtime
