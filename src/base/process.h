// Child processes as move-only handles: spawn, wait, signal. The handle holds a pidfd so that a
// reused PID can never be signalled by mistake.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel {

struct ExitStatus {
  int code = -1;    // exit code when the process exited
  int signal = 0;   // signal number when it was killed
  bool exited() const { return signal == 0; }
  bool success() const { return signal == 0 && code == 0; }
  std::string to_string() const;
};

struct SpawnOptions {
  std::vector<std::string> env;       // empty: inherit
  std::string cwd;                    // empty: inherit
  int stdin_fd = -1;                  // -1: inherit; otherwise dup2'd to 0
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool new_session = false;           // setsid(): survives its parent's terminal and process group
};

class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  // Kills (SIGKILL) and reaps a child still running: a handle never leaks a process.
  ~Process();

  static Result<Process> spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool running() const { return pid_ > 0 && !status_; }

  Result<void> signal(int signo) const;
  // Waits for exit; with a timeout returns std::nullopt when it has not exited in time.
  Result<std::optional<ExitStatus>> wait_for(std::chrono::milliseconds timeout);
  Result<ExitStatus> wait();
  // Lets the process go: the handle no longer kills it on destruction.
  pid_t detach();

 private:
  pid_t pid_ = -1;
  Fd pidfd_;
  std::optional<ExitStatus> status_;
};

// Runs a command to completion, capturing stdout (stderr passes through).
struct CommandOutput {
  ExitStatus status;
  std::string out;
};
Result<CommandOutput> run_capture(const std::vector<std::string>& argv);

}  // namespace vessel
