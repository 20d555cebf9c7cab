// How a guest ended: the exit status of a VM (vessel-vmm's, docs/vmm/README.md) or of a container's
// process, and why. Learnt from the guest's exit file (written by vessel-vmm --metrics-file, or
// by vessel-shim for containers), which survives a vesseld restart; else from the wait status
// when vesseld was the parent.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/json.h"

namespace vessel::daemon {

struct ExitInfo {
  std::optional<int64_t> code;  // none: nobody could learn it (killed while vesseld was down, ...)
  std::string reason;           // poweroff, reboot, panic, error, debug-exit, watchdog, terminated, exited, signal, killed, unknown
  std::string detail;           // e.g. the panic line
  bool oom_killed = false;      // the kernel's OOM killer struck in its cgroup (oom_note.h)

  json::Json to_json() const;
};

// The exit file's name in the instance directory.
inline constexpr const char* kExitFile = "exit.json";

// {"exit": {"kind", "code", "reason"}}: vessel-vmm's metrics file or vessel-shim's exit file.
std::optional<ExitInfo> parse_exit_file(std::string_view text);
// Reads `path`, waiting up to `wait` for it to appear.
std::optional<ExitInfo> read_exit_file(const std::string& path, std::chrono::milliseconds wait);
// A waitpid() status: exited N -> {N, "exited"}; signal S -> {128 + S, "killed" for SIGKILL, else "signal"}.
ExitInfo exit_from_wait_status(int status);

}  // namespace vessel::daemon
