#include "runtime/linux/stage1.h"

#include <sys/socket.h>
#include <unistd.h>

#include "runtime/linux/sync.h"

namespace vessel::runtime {

Result<Stage1> fork_stage1(const std::function<Result<void>(int sock)>& body) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return fail_errno("socketpair");
  Fd parent_sock(sv[0]), child_sock(sv[1]);
  pid_t pid = fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    parent_sock.reset();
    auto r = body(child_sock.get());
    if (!r) sync_send(child_sock.get(), SyncType::Error, 0, r.error().to_string(), r.error().errnum());
    _exit(r ? 0 : 1);
  }
  return Stage1{pid, std::move(parent_sock)};
}

}  // namespace vessel::runtime
