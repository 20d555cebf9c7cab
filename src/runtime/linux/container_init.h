// The container's side of create: stage 1 joins or creates the namespaces and forks init
// (stage 2) with CLONE_PARENT; init builds the rootfs, reports Ready and blocks on exec.fifo until
// `start`, then becomes the container's process. Both talk to the runtime over sync.h messages.
#pragma once

#include <string>
#include <vector>

#include "base/fd.h"
#include "runtime/container.h"
#include "runtime/linux/mounts.h"
#include "runtime/linux/seccomp.h"

namespace vessel::runtime {

struct JoinNs {
  std::string type;
  Fd fd;
};

struct InitContext {
  const Spec* spec = nullptr;
  const CreateOptions* opts = nullptr;
  RootfsContext rootfs;
  std::vector<JoinNs> joins;  // user first
  int sock = -1;              // child end of the sync pair
  int state_dir = -1;         // O_PATH fd of <root>/<id>: exec.fifo is opened through it
  int console = -1;           // connected console socket (terminal)
  int seccomp_listener = -1;  // connected listenerPath socket
  SeccompFilter* seccomp = nullptr;  // only with SCMP_ACT_NOTIFY (libseccomp gives the notify fd)
  std::string bpf;                   // otherwise: the compiled program, loaded directly
  unsigned bpf_flags = 0;
  bool wait_fifo = true;
};

// Stage 1's work, in the child fork_stage1() made; `c.sock` is its end of the pair.
Result<void> stage1_body(InitContext& c);

}  // namespace vessel::runtime
