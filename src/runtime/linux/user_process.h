// The last steps before execve of a container process, shared by the container's init and by
// `exec`: rlimits, terminal, user and groups, capabilities, no_new_privs, seccomp, cwd, fds.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/unix_socket.h"
#include "runtime/linux/seccomp.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

// args[0] looked up in the PATH of the process's own env (not the runtime's).
Result<std::string> find_executable(const Process& p);
// In the child: find_executable() failed. Sends the error on the sync socket with the status a
// shell gives (127 not found, 126 not executable) as its value, and exits with that status.
[[noreturn]] void report_command_failure(int sync_socket, const Error& error);
// In the runtime: the child's report was a command failure with `status` (126 or 127); the
// runtime then exits with it, as Docker reports a command that cannot run. 0: none noted.
void note_command_status(int status);
int noted_command_status();
Result<void> apply_rlimits(const Process& p);
// Opens a pty in the container's devpts, sends the master over the console socket, makes the
// slave our controlling terminal and stdio.
// The slave is chowned to the process's user so it can use its own terminal.
Result<void> setup_terminal(int console_socket, const std::optional<ConsoleSize>& size, uid_t uid, gid_t gid);
// setgroups/setresgid/setresuid (keeping capabilities), umask, then the capability sets.
Result<void> become_user(const Process& p);
// chdir to cwd and refuse a cwd that is not under the container's root (CVE-2024-21626).
Result<void> enter_cwd(const std::string& cwd);
// env with HOME added (from the container's /etc/passwd) when the config does not set it.
std::vector<std::string> process_env(const Process& p);
// Marks every fd from 3 + preserve_fds upwards close-on-exec: no host fd reaches the container.
Result<void> seal_fds(int preserve_fds);
// no_new_privs and the seccomp filter (last: the filter may forbid what came before).
Result<Fd> lock_down(const Process& p, SeccompFilter* filter);
// Sends the seccomp notify fd and the container state to listenerPath's socket.
Result<void> send_seccomp_listener(int socket, int notify_fd, const std::string& state_json);
// The console socket and listenerPath are Unix sockets (base/unix_socket.h).
inline Result<Fd> connect_unix(const std::string& path) { return unix_socket::connect(path); }
using unix_socket::send_fd;

[[noreturn]] void exec_process(const std::string& path, const Process& p, const std::vector<std::string>& env);

}  // namespace vessel::runtime
