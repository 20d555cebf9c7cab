// The seccomp allowlists of vessel-vmm's threads (docs/vmm/sandbox.md): one per kind of thread,
// each a list of syscalls, some only with given arguments (ioctl request numbers, mmap without
// PROT_EXEC, clone only for threads). Anything else ends the process (SECCOMP_RET_KILL_PROCESS).
// The lists are data; seccomp.h compiles and installs them.
#pragma once

#include <seccomp.h>

#include <string>
#include <vector>

namespace vessel::vmm::sandbox {

enum class ThreadKind {
  Vmm,       // the VMM thread (main): mailboxes, machine lifecycle, the final teardown
  Vcpu,      // one per vCPU: KVM_RUN and the exit handlers (port and MMIO devices, emulator)
  Api,       // the API server's listener and connection threads (libmicrohttpd)
  Console,   // the console socket's thread (--console-sock)
  Virtio,    // one per virtio device: the virtqueue walk and request parsing
  BlockIo,   // virtio-blk's I/O workers, started by the device thread
  Signals,   // waits for SIGTERM/SIGINT/SIGHUP
  Terminal,  // reads the terminal on stdin
  VirtioVsock,  // virtio-vsock's device thread: the virtio list plus its Unix sockets
  VirtioVhostNet,  // a vhost-net device's thread: the virtio list plus starting/stopping vhost
};
inline constexpr ThreadKind kAllThreadKinds[] = {ThreadKind::Vmm,     ThreadKind::Vcpu,    ThreadKind::Api,
                                                 ThreadKind::Console, ThreadKind::Virtio,  ThreadKind::BlockIo,
                                                 ThreadKind::Signals, ThreadKind::Terminal, ThreadKind::VirtioVsock,
                                                 ThreadKind::VirtioVhostNet};
const char* to_string(ThreadKind kind);

// One allowed syscall, when every argument condition holds (none: always). `errno_instead`: the
// call fails with this errno instead of running (clone3 gets ENOSYS, so that glibc falls back to
// clone, whose flags a filter can read).
struct SyscallRule {
  int nr;
  std::vector<scmp_arg_cmp> args;
  int errno_instead = 0;
};

// The allowlist of `kind`. With `vmm_rebuilds` (the configuration asks for on_reboot: restart),
// the VMM thread's list also holds everything building a VM takes and every other list (threads
// started later inherit its filter on top of their own).
std::vector<SyscallRule> allowlist(ThreadKind kind, bool vmm_rebuilds = false);

}  // namespace vessel::vmm::sandbox
