// The Uffd memory backend of PUT /snapshot/load (docs/vmm/uffd.md): guest RAM is anonymous memory
// registered with a userfaultfd for missing-page faults; a page-fault handler process, reached at
// backend_path, receives the uffd and the region mappings (uffd_protocol.h) and fills each page
// from the snapshot's memory file as the guest (or KVM, or a device) first touches it.
#pragma once

#include <poll.h>

#include <chrono>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "vmm/memory/guest_memory.h"

namespace vessel::vmm::snapshot {

class UffdBackend {
 public:
  // Registers all of `memory` with a new userfaultfd, connects to the handler at `socket_path`,
  // sends the mappings with the uffd, and waits (up to `first_page_timeout`) for the handler to
  // fill the first page of guest RAM: a handler that closes the socket, writes anything on it
  // (the protocol has it send nothing) or stays silent is an error here, at the load, instead of
  // a guest that hangs later. `memory` must be fresh (no page touched yet).
  static Result<UffdBackend> connect(const GuestMemory& memory, const std::string& socket_path,
                                     std::chrono::milliseconds first_page_timeout = std::chrono::seconds(10));

  // The connection to the handler: readable (hang-up or bytes) once the handler is gone or
  // misbehaves, after which guest pages it has not served can never be filled.
  int watch_fd() const { return socket_.get(); }
  // Poll watch_fd() for these; describe() says what its revents mean, as a message for the log
  // (without a system call: the VMM thread's seccomp filter allows none here).
  static constexpr short kWatchEvents = POLLIN | POLLRDHUP;
  static std::string describe(short revents);

 private:
  UffdBackend(Fd uffd, Fd socket) : uffd_(std::move(uffd)), socket_(std::move(socket)) {}
  Fd uffd_;    // kept open: without it a handler that exits would let faults be zero-filled
  Fd socket_;
};

}  // namespace vessel::vmm::snapshot
