// vessel-uffd-handler's side of the handshake (docs/vmm/uffd.md): one connection from a VMM that
// carries the region mappings (JSON, vmm/snapshot/uffd_protocol.h) and exactly one userfaultfd.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "vmm/snapshot/uffd_protocol.h"

namespace vessel::vmm::uffd_handler {

struct Handshake {
  Fd socket;  // kept open while the VM lives: its end means the VMM exited
  Fd uffd;
  std::vector<snapshot::UffdRegion> regions;
  pid_t peer_pid = 0;
};

// Checks what one recvmsg brought: `fds` (already received, closed on error) must be exactly one
// userfaultfd (`is_uffd` decides, so that tests can pass other fds), `data` a valid message whose
// regions fit a memory file of `file_size` bytes.
Result<Handshake> check_handshake(std::string_view data, std::vector<Fd> fds, uint64_t file_size,
                                  bool (*is_uffd)(int));

// Accepts one connection on `listener` and receives and checks its message.
Result<Handshake> accept_vm(int listener, uint64_t file_size);

}  // namespace vessel::vmm::uffd_handler
