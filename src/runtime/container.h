// The runtime's operations, one function per command of runc's command line. The CLI in
// src/runtime/cli/ only parses arguments and prints; everything else is here.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "runtime/spec/spec.h"
#include "runtime/state.h"

namespace vessel::runtime {

struct GlobalOptions {
  std::string root = kDefaultRoot;
  bool systemd_cgroup = false;
  std::string criu = "criu";  // --criu: checkpoint and restore run it
};

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  int preserve_fds = 0;
  bool detach = true;  // `run` without -d: wait for the container and delete it
};

struct ExecOptions {
  std::string id;
  std::string process_file;  // -p process.json
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd;
  std::string user;  // "uid[:gid]"
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> caps;
  bool tty = false;
  bool detach = false;
  bool no_new_privs = false;
  bool ignore_paused = false;
  std::string console_socket;
  std::string pid_file;
  int preserve_fds = 0;
};

// Returns the exit status to report (0 for create / run -d).
Result<int> create(const GlobalOptions& g, const CreateOptions& o);
Result<int> run(const GlobalOptions& g, const CreateOptions& o);
Result<void> start(const GlobalOptions& g, const std::string& id);
Result<void> kill(const GlobalOptions& g, const std::string& id, int signo, bool all);
Result<void> remove(const GlobalOptions& g, const std::string& id, bool force);
Result<nlohmann::ordered_json> state(const GlobalOptions& g, const std::string& id);
Result<void> pause(const GlobalOptions& g, const std::string& id);
Result<void> resume(const GlobalOptions& g, const std::string& id);
Result<void> update(const GlobalOptions& g, const std::string& id, const Resources& r);
Result<std::vector<pid_t>> ps(const GlobalOptions& g, const std::string& id);
Result<int> exec(const GlobalOptions& g, const ExecOptions& o);
Result<std::vector<nlohmann::ordered_json>> list(const GlobalOptions& g);
Result<nlohmann::ordered_json> stats(const GlobalOptions& g, const std::string& id);
json::Json features();
json::Json default_spec(bool rootless);

// "KILL", "SIGKILL", "9" -> 9.
Result<int> parse_signal(const std::string& text);

// Delete the saved state of a stopped container: cgroup, poststop hooks, state directory.
Result<void> destroy(const StateStore& store, const ContainerState& s);

// Writes a pid file atomically (runc's format: the number, no newline).
Result<void> write_pid_file(const std::string& path, pid_t pid);

}  // namespace vessel::runtime
