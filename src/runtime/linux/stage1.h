// The runtime's first child for create and exec: a SOCK_SEQPACKET pair (sync.h) and a fork (a
// clone with `clone_flags`, new namespaces, when create starts the container's init directly).
// The child runs `body` with its end of the pair, then exits: 0 on success, 1 after sending the
// error to the runtime as a SyncType::Error message.
#pragma once

#include <sys/types.h>

#include <functional>

#include "base/fd.h"
#include "base/error.h"

namespace vessel::runtime {

struct Stage1 {
  pid_t pid = -1;
  Fd sock;  // the runtime's end
};

Result<Stage1> fork_stage1(const std::function<Result<void>(int sock)>& body, int clone_flags = 0);

}  // namespace vessel::runtime
