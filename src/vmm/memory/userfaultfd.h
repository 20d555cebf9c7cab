// userfaultfd(2) for guest RAM (docs/vmm/uffd.md): the one place that issues userfaultfd ioctls.
// vessel-vmm creates one and registers guest RAM for missing-page faults; the page-fault handler
// (vessel-uffd-handler) receives it over a Unix socket, reads fault events and fills pages.
#pragma once

#include <cstdint>
#include <optional>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm::uffd {

// A new userfaultfd (non-blocking, close-on-exec) that also sees the kernel's own faults on the
// registered memory (KVM reaching guest RAM): never UFFD_USER_MODE_ONLY. /dev/userfaultfd first
// (kernel 6.1+, its file mode decides), then the system call (root, CAP_SYS_PTRACE, or
// vm.unprivileged_userfaultfd=1). The error says which of these to provide.
Result<Fd> create();

// Registers [addr, addr + len) for missing-page faults.
Result<void> register_missing(int uffd, void* addr, uint64_t len);

// True when `fd` is a userfaultfd (its /proc/self/fd link names the anon inode).
bool is_userfaultfd(int fd);

// One page fault read from the uffd; nullopt when none is pending (EAGAIN). Other events
// (fork, remap, remove, unmap: not requested) are returned with `pagefault` false.
struct Event {
  bool pagefault = false;
  uint64_t address = 0;
  bool write = false;
};
Result<std::optional<Event>> read_event(int uffd);

// Fills [dst, dst + len) (page aligned, missing) with a copy of `src` and wakes the faulting
// threads. A page someone filled meanwhile (EEXIST) is not an error: the waiters are woken.
Result<void> copy(int uffd, uint64_t dst, const void* src, uint64_t len);
// Maps the zero page at [dst, dst + len) (a hole of the memory file) and wakes the waiters.
Result<void> zeropage(int uffd, uint64_t dst, uint64_t len);

}  // namespace vessel::vmm::uffd
