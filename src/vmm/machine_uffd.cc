// A Uffd-restored machine's page-fault handler (docs/vmm/uffd.md): watched by the VMM thread.
#include <unistd.h>

#include "base/log.h"
#include "vmm/machine_impl.h"

namespace vessel::vmm {

int Machine::memory_watch_fd() const { return impl_ && impl_->uffd ? impl_->uffd->watch_fd() : -1; }

// The handler holds the only way to fill the pages it has not served yet: a vCPU (inside KVM_RUN)
// or a device thread that touches one waits for ever and cannot be joined. Ending the process
// kills those waits (exit status 2, as any VM the VMM cannot continue).
void Machine::memory_backend_lost(short revents) {
  log::error("{}: guest pages not served yet can never be filled; vessel-vmm ends the VM (exit status 2)",
             snapshot::UffdBackend::describe(revents));
  ::_exit(exit_code({VmEvent::Kind::Error, 0, "page-fault handler lost"}));
}

}  // namespace vessel::vmm
