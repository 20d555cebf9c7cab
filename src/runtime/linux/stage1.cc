#include "runtime/linux/stage1.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/linux/sync.h"

namespace vessel::runtime {

Result<Stage1> fork_stage1(const std::function<Result<void>(int sock)>& body, int clone_flags) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return fail_errno("socketpair");
  Fd parent_sock(sv[0]), child_sock(sv[1]);
  // The raw clone, as for init in stage 1: the runtime is single-threaded and the child runs
  // nothing that needs glibc's fork handlers.
  pid_t pid = clone_flags ? static_cast<pid_t>(syscall(SYS_clone, clone_flags | SIGCHLD, 0, 0, 0, 0)) : fork();
  if (pid < 0) return clone_flags ? fail_errno("clone the container init (flags {:#x})", clone_flags) : fail_errno("fork");
  if (pid == 0) {
    parent_sock.reset();
    auto r = body(child_sock.get());
    if (!r) sync_send(child_sock.get(), SyncType::Error, 0, r.error().to_string(), r.error().errnum());
    _exit(r ? 0 : 1);
  }
  return Stage1{pid, std::move(parent_sock)};
}

}  // namespace vessel::runtime
