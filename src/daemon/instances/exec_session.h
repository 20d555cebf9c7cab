// An interactive exec (vessel exec -i/-t): the runtime's `exec` running in the foreground, with
// either a pty (its master, received over --console-socket as runc does) or three pipes. The API
// relays it to the client (api/attach.cc); the runtime exits with the command's status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/process.h"

namespace vessel::daemon {

struct ExecOptions {
  std::vector<std::string> argv;
  bool tty = false;
  uint16_t rows = 0, cols = 0;  // initial terminal size (tty)
};

struct ExecSession {
  Process runtime;   // `runtime exec`: exits with the command's status (128 + signal when killed)
  Fd pty;            // tty: the pty master
  Fd in, out, err;   // our ends of the command's stdin, stdout, stderr (tty: only err, the runtime's)
  std::string process_file;  // the process JSON, removed with the session

  ExecSession() = default;
  ExecSession(ExecSession&&) = default;
  ExecSession& operator=(ExecSession&&) = default;
  ~ExecSession();
};

// Starts `argv` with three fresh pipes as its stdin, stdout and stderr, keeping our ends in
// `session` (in, out, err) and the process in session.runtime.
Result<void> spawn_with_pipes(const std::vector<std::string>& argv, SpawnOptions spawn, ExecSession& session);

}  // namespace vessel::daemon
