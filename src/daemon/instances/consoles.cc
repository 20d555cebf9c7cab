// Interactive consoles (docs/daemon/console.md): a VM's serial console (vessel-vmm's socket) and
// a container's terminal (-t) or open stdin (-i), held by vessel-shim. All outlive vesseld; all
// are raw bytes.
#include <sys/stat.h>

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

}  // namespace vessel::daemon
