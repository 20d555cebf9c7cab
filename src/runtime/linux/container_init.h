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

// Without namespaces to join, a user namespace or a time namespace, stage 1 has nothing to do
// that a clone with the new namespaces' flags does not: the runtime clones init itself (one
// process less per create, as crun does). The flags to clone with, or 0 for the two stages.
int direct_init_clone_flags(const InitContext& c);

// Init's work when cloned directly with those flags; it never returns.
Result<void> direct_init_body(InitContext& c);

}  // namespace vessel::runtime
