// Interactive consoles (docs/daemon/console.md): a VM's serial console (vessel-vmm's socket) and
// a container's terminal (-t) or open stdin (-i), held by vessel-shim. All outlive vesseld; all
// are raw bytes.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "daemon/instances/container_backend.h"
#include "daemon/instances/manager.h"
#include "daemon/instances/vm_backend.h"

namespace vessel::daemon {

Result<std::string> Manager::console_socket(const std::string& name) {
  auto [row, spec] = TRY(load(name));
  bool vm = spec.type == InstanceType::Vm;
  if (!vm && !spec.process.tty && !spec.process.interactive)
    return Unexpected(Error(ENOTSUP, fmt::format("{} is a container without a terminal or an open stdin", name))
                          .with_hint(fmt::format("run it with -t or -i to attach to it, or use `vessel exec -it {} -- /bin/sh`", name)));
  if (row.state != to_string(State::Running) && row.state != to_string(State::Paused))
    return Unexpected(Error(EBUSY, fmt::format("cannot attach to the console: instance is {}", row.state))
                          .with_hint("start it first; `vessel logs` shows what it printed"));
  // The run directory belongs to the VM's uid: connect to a socket, never through a link it planted.
  std::string path = vm ? vm_console_socket(dir_of(name)) : container_console_socket(dir_of(name));
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) return fail(EPERM, "{} is not a socket", path);
  return path;
}

Result<void> Manager::resize_terminal(const std::string& name, uint16_t rows, uint16_t cols) {
  auto [row, spec] = TRY(load(name));
  if (spec.type == InstanceType::Vm || !spec.process.tty)
    return fail(ENOTSUP, "{} has no terminal to resize (only a container run with -t has one)", name);
  if ((row.state != to_string(State::Running) && row.state != to_string(State::Paused)) || row.pid <= 0)
    return fail(EBUSY, "cannot resize the terminal of {}: it is {}", name, row.state);
  // The container's process 1 has the terminal as its stdio (its pty slave): setting the size
  // there is the same as on the master vessel-shim holds, and the kernel signals the foreground.
  for (int fd : {0, 1, 2}) {
    std::string path = fmt::format("/proc/{}/fd/{}", row.pid, fd);
    Fd tty(::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!tty || !::isatty(tty.get())) continue;
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = cols;
    if (::ioctl(tty.get(), TIOCSWINSZ, &ws) != 0) return fail_errno("resize the terminal of {}", name);
    return {};
  }
  return fail(ENOTTY, "the process of {} no longer has its terminal open", name);
}

}  // namespace vessel::daemon
