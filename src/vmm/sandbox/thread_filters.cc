#include "vmm/sandbox/thread_filters.h"

#include <fcntl.h>
#include <sched.h>
#include <linux/if_tun.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/seccomp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "kvm/kvm.h"
#include "vmm/devices/virtio/net/vhost.h"

namespace vessel::vmm::sandbox {
namespace {

using Rules = std::vector<SyscallRule>;

SyscallRule any(int nr) { return {nr, {}}; }

void add(Rules& to, const Rules& more) { to.insert(to.end(), more.begin(), more.end()); }

Rules plain(std::initializer_list<int> nrs) {
  Rules r;
  for (int nr : nrs) r.push_back(any(nr));
  return r;
}

// ioctl with one of these request numbers (the kernel reads the request as 32 bits).
Rules ioctls(const std::vector<unsigned long>& requests) {
  Rules r;
  for (unsigned long req : requests) r.push_back({SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, req)}});
  return r;
}

// What every thread needs to live and die: locks, memory (never executable), signals' return, the
// clocks, its own ids, and write(2) for the log on stderr and for the eventfds of the mailboxes.
Rules every_thread() {
  Rules r = plain({SCMP_SYS(futex), SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
                   SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall), SCMP_SYS(munmap), SCMP_SYS(brk),
                   SCMP_SYS(mremap), SCMP_SYS(sched_yield), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
                   SCMP_SYS(nanosleep), SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(write)});
  r.push_back({SCMP_SYS(mmap), {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)}});
  r.push_back({SCMP_SYS(mprotect), {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)}});
  // glibc returns a dead thread's stack and malloc's free pages with these two.
  r.push_back({SCMP_SYS(madvise), {SCMP_A2(SCMP_CMP_EQ, MADV_DONTNEED)}});
  r.push_back({SCMP_SYS(madvise), {SCMP_A2(SCMP_CMP_EQ, MADV_FREE)}});
#if defined(__SANITIZE_ADDRESS__)
  // Only in the ASan+UBSan test build: ASan gives each thread an alternate signal stack and
  // tunes its allocator's pages with madvise (any advice), and
  // UBSan's vptr check probes memory by writing it into a pipe (IsAccessibleMemoryRange). A
  // sanitizer report from a confined thread cannot open /proc/self/maps: rerun with
  // --seccomp-level 0 to read it whole.
  add(r, plain({SCMP_SYS(sigaltstack), SCMP_SYS(pipe2), SCMP_SYS(close), SCMP_SYS(madvise),
                SCMP_SYS(sched_getaffinity)}));
#endif
  return r;
}

// Starting threads (clone with CLONE_THREAD only: no new processes), and what glibc's thread start
// runs in the new thread before it reaches our code (under this filter, which it inherits).
Rules starts_threads() {
  Rules r;
  r.push_back({SCMP_SYS(clone), {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)}});
  r.push_back({SCMP_SYS(clone3), {}, ENOSYS});  // its flags sit in memory: glibc then uses clone
  add(r, plain({SCMP_SYS(set_robust_list), SCMP_SYS(rseq)}));
  r.push_back({SCMP_SYS(prctl), {SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)}});  // pthread_setname_np
  r.push_back({SCMP_SYS(setpriority), {SCMP_A0(SCMP_CMP_EQ, PRIO_PROCESS)}});  // io_nice
  // The new thread loads its own filter on top of this one (a filter can only narrow).
  r.push_back({SCMP_SYS(seccomp), {SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER)}});
  return r;
}

// Reads and writes on files already open: disk images.
Rules file_io() {
  return plain({SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(preadv2),
                SCMP_SYS(pwritev2), SCMP_SYS(read), SCMP_SYS(fdatasync), SCMP_SYS(fsync), SCMP_SYS(fallocate),
                SCMP_SYS(ftruncate), SCMP_SYS(fstat), SCMP_SYS(lseek)});
}

// Serving connections on a listening Unix socket that is already open.
Rules serves_sockets() {
  return plain({SCMP_SYS(accept4), SCMP_SYS(accept), SCMP_SYS(read), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
                SCMP_SYS(writev), SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(poll), SCMP_SYS(ppoll),
                SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(close), SCMP_SYS(shutdown), SCMP_SYS(fcntl),
                SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername)});
}

// Building a VM again (on_reboot: restart): /dev/kvm, the kernel, initrd and disks, guest RAM,
// the devices' eventfds and the kick signal's handler.
Rules builds_vms() {
  Rules r = plain({SCMP_SYS(openat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(access), SCMP_SYS(faccessat),
                   SCMP_SYS(faccessat2), SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getcwd),
                   SCMP_SYS(getrandom), SCMP_SYS(eventfd2), SCMP_SYS(rt_sigaction), SCMP_SYS(madvise)});
  // virtio-vsock's listener (unix_socket::listen) and epoll set, made again on a rebuild.
  add(r, plain({SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(connect), SCMP_SYS(lstat), SCMP_SYS(chmod), SCMP_SYS(fchmodat),
                SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2),
                SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl)}));  // rename: listen() binds a temporary name
  r.push_back({SCMP_SYS(socket), {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)}});
  add(r, ioctls(kvm::build_ioctls()));
  add(r, ioctls(kvm::running_vcpu_ioctls()));
  add(r, ioctls({TUNSETIFF, TUNSETVNETHDRSZ, TUNSETOFFLOAD}));  // attaching virtio-net's taps again
  add(r, ioctls(virtio::net::vhost_build_ioctls()));  // and opening /dev/vhost-net again
  // The vCPUs' shared kvm_run pages and guest RAM: still never executable.
  return r;
}

Rules own_list(ThreadKind kind) {
  Rules r = every_thread();
  switch (kind) {
    case ThreadKind::Vmm:
      // Mailboxes, pausing and stopping vCPUs (tgkill), syncing disks at the end, the finisher
      // thread that closes the API, unlinking the sockets, the pre-opened --metrics-file.
      add(r, plain({SCMP_SYS(read), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(close), SCMP_SYS(tgkill),
                    SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(unlink), SCMP_SYS(shutdown),
                    SCMP_SYS(ftruncate), SCMP_SYS(pwrite64), SCMP_SYS(lseek)}));
      add(r, starts_threads());
      // PUT /snapshot/create: reading the paused VM's KVM state and writing two new files
      // (openat only write-only: this thread reads no file).
      add(r, ioctls(kvm::snapshot_ioctls()));
      r.push_back({SCMP_SYS(openat), {SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_WRONLY)}});
      // Is the new file the one a restored VM's RAM maps? (glibc's fstat is newfstatat on the fd
      // with AT_EMPTY_PATH.)
      add(r, plain({SCMP_SYS(fstat)}));
      r.push_back({SCMP_SYS(newfstatat), {SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)}});
      // PUT /migration/send (docs/vmm/migration.md): the dirty log turned on, a connection to the
      // receiver (Unix or TCP; connect, TCP_NODELAY) and the stream (sendmsg with MSG_NOSIGNAL).
      add(r, ioctls(kvm::migration_ioctls()));
      for (scmp_datum_t family : {AF_UNIX, AF_INET, AF_INET6}) r.push_back({SCMP_SYS(socket), {SCMP_A0(SCMP_CMP_EQ, family)}});
      add(r, plain({SCMP_SYS(connect), SCMP_SYS(sendmsg), SCMP_SYS(setsockopt)}));
      add(r, plain({SCMP_SYS(pread64)}));  // /proc/self/pagemap, opened at start: RAM never touched
      // Writable images' locks dropped at the pause, taken again if the migration fails.
      for (scmp_datum_t cmd : {F_OFD_SETLK, F_OFD_GETLK}) r.push_back({SCMP_SYS(fcntl), {SCMP_A1(SCMP_CMP_EQ, cmd)}});
      break;
    case ThreadKind::Vcpu:
      add(r, ioctls(kvm::running_vcpu_ioctls()));
      add(r, plain({SCMP_SYS(tgkill)}));  // the VM ends: kick the other vCPUs out of KVM_RUN
      break;
    case ThreadKind::Api:
      add(r, serves_sockets());
      add(r, plain({SCMP_SYS(eventfd2), SCMP_SYS(pipe2)}));  // libmicrohttpd's wake-up channel
      add(r, starts_threads());  // a thread per connection
      break;
    case ThreadKind::Console:
      add(r, serves_sockets());
      break;
    case ThreadKind::Virtio:
      add(r, plain({SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(getrandom)}));
      add(r, file_io());
      add(r, starts_threads());  // virtio-blk's I/O workers
      // virtio-net: frames to and from the tap, and the offloads the driver accepted.
      add(r, plain({SCMP_SYS(readv), SCMP_SYS(writev)}));
      add(r, ioctls({TUNSETOFFLOAD}));
      break;
    case ThreadKind::BlockIo:
      add(r, file_io());
      add(r, starts_threads());  // the block layer's I/O pool (src/block/io_pool.cc) starts on first use
      break;
    case ThreadKind::Signals:
      add(r, plain({SCMP_SYS(rt_sigtimedwait)}));
      break;
    case ThreadKind::Terminal:
      add(r, plain({SCMP_SYS(read), SCMP_SYS(poll)}));
      break;
    case ThreadKind::VirtioVsock:
      // The listener and epoll set exist already; streams: accept, connect to "<uds>_<port>"
      // (AF_UNIX only), epoll, read/write, shutdown, close.
      add(r, plain({SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(sendto),
                    SCMP_SYS(writev), SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(epoll_wait),
                    SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(shutdown), SCMP_SYS(close)}));
      r.push_back({SCMP_SYS(socket), {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)}});
      break;
    case ThreadKind::VirtioVhostNet:
      // The virtio list (eventfds, the tap's offloads) and the vhost ioctls that start and stop
      // the rings; not those that open an instance or change its memory table.
      r = own_list(ThreadKind::Virtio);
      add(r, ioctls(virtio::net::vhost_ring_ioctls()));
      break;
  }
  return r;
}

}  // namespace

const char* to_string(ThreadKind kind) {
  switch (kind) {
    case ThreadKind::Vmm: return "vmm";
    case ThreadKind::Vcpu: return "vcpu";
    case ThreadKind::Api: return "api";
    case ThreadKind::Console: return "console";
    case ThreadKind::Virtio: return "virtio";
    case ThreadKind::BlockIo: return "block-io";
    case ThreadKind::Signals: return "signals";
    case ThreadKind::Terminal: return "terminal";
    case ThreadKind::VirtioVsock: return "virtio-vsock";
    case ThreadKind::VirtioVhostNet: return "virtio-vhost-net";
  }
  return "unknown";
}

std::vector<SyscallRule> allowlist(ThreadKind kind, bool vmm_rebuilds) {
  if (kind != ThreadKind::Vmm || !vmm_rebuilds) return own_list(kind);
  Rules r = builds_vms();
  for (ThreadKind k : kAllThreadKinds) add(r, own_list(k));
  return r;
}

}  // namespace vessel::vmm::sandbox
