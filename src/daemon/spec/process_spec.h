// How a container's process starts beyond its command, as Docker's run flags say it: the
// entrypoint (--entrypoint), working directory (-w), user (-u), hostname (--hostname), a terminal
// (-t), stdin kept open (-i) and an init process (--init).
// Each unset field falls back to the image's (or the default: /, root, the instance's name).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

// A terminal for the container's process (-t); its first size, 0 when unknown.
struct TtySize {
  uint16_t rows = 0, cols = 0;
};

struct ProcessSpec {
  // Replaces the image's ENTRYPOINT and drops its CMD; an empty list: no entrypoint at all.
  std::optional<std::vector<std::string>> entrypoint;
  std::string workdir;   // absolute, in the container; empty: the image's WorkingDir, else /
  std::string user;      // uid[:gid] or name[:group] (the image's /etc/passwd); empty: the image's User, else root
  std::string hostname;  // empty: the instance's name
  std::optional<TtySize> tty;  // -t: the process gets a terminal, which vessel-shim holds
  bool init = false;           // --init: vessel-init is process 1 and runs the command (src/init)
  // -i: stdin stays open (a pipe vessel-shim holds) until the first attached client's input ends.
  // With a terminal, the terminal is the stdin and this changes nothing.
  bool interactive = false;

  bool empty() const {
    return !entrypoint && workdir.empty() && user.empty() && hostname.empty() && !tty && !init && !interactive;
  }
};

// Reads "entrypoint", "workdir", "user", "hostname", "tty" ({"rows", "cols"}), "init" and
// "interactive" of a spec's JSON object, each optional.
Result<ProcessSpec> parse_process_spec(const json::Json& spec);
// Adds the fields that are set to `spec`.
void process_to_json(const ProcessSpec& p, json::Json& spec);

// The argv Docker would run: the entrypoint (the spec's, else the image's), then the command
// (the spec's, else the image's CMD unless the spec replaced the entrypoint).
std::vector<std::string> process_args(const ProcessSpec& p, const std::vector<std::string>& command,
                                      const std::vector<std::string>& image_entrypoint,
                                      const std::vector<std::string>& image_cmd);

}  // namespace vessel::daemon
