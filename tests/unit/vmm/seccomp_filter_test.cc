// The thread filters of src/vmm/sandbox, loaded in forked children: what a kind allows runs, what
// it does not kills the whole process with SIGSYS (SECCOMP_RET_KILL_PROCESS), arguments included.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "vmm/devices/virtio/net/vhost.h"
#include "vmm/sandbox/seccomp.h"

namespace vessel::vmm::sandbox {
namespace {

// The raw exit_group: ASan's _exit interceptor runs a leak check (a tracer thread, ptrace) that
// no filter allows, so in the sanitizer build every child died of SIGSYS on its way out.
[[noreturn]] void exit_now(int code) {
  ::syscall(SYS_exit_group, code);
  __builtin_unreachable();
}

// Forks; the child loads `kind`'s filter and runs `body`, then exits 0. Returns the wait status.
int in_confined_child(ThreadKind kind, const std::function<void()>& body, bool vmm_rebuilds = false) {
  auto program = compile(kind, vmm_rebuilds);
  EXPECT_TRUE(program) << program.error().to_string();
  if (!program) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !load(*program)) exit_now(100);
    body();
    exit_now(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

bool killed_by_sigsys(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; }
bool exited_zero(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

TEST(SeccompFilter, EveryKindCompilesToAProgram) {
  for (ThreadKind kind : kAllThreadKinds) {
    auto p = compile(kind);
    ASSERT_TRUE(p) << to_string(kind) << ": " << p.error().to_string();
    EXPECT_GT(p->size(), 10u) << to_string(kind);
  }
  auto widened = compile(ThreadKind::Vmm, true);
  ASSERT_TRUE(widened) << widened.error().to_string();
  EXPECT_GT(widened->size(), compile(ThreadKind::Vmm)->size());
}

TEST(SeccompFilter, AForbiddenCallKillsTheProcess) {
  // No thread of vessel-vmm opens files or sockets once confined; virtio-vsock's device thread
  // only Unix sockets (guest streams to "<uds_path>_<port>"), the VMM thread Unix and IP ones (a
  // migration's stream).
  for (ThreadKind kind : kAllThreadKinds) {
    int st = in_confined_child(kind, [] { (void)::syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY); });
    EXPECT_TRUE(killed_by_sigsys(st)) << to_string(kind) << ": status " << st;
    int family = kind == ThreadKind::VirtioVsock ? AF_INET : kind == ThreadKind::Vmm ? AF_NETLINK : AF_UNIX;
    st = in_confined_child(kind, [family] { (void)::syscall(SYS_socket, family, SOCK_STREAM, 0); });
    EXPECT_TRUE(killed_by_sigsys(st)) << to_string(kind) << ": status " << st;
  }
  EXPECT_TRUE(exited_zero(in_confined_child(ThreadKind::VirtioVsock, [] {
    (void)::syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
  })));
  // The one that makes no files can still write its log and end.
  EXPECT_TRUE(exited_zero(in_confined_child(ThreadKind::Signals, [] { (void)::write(2, "", 0); })));
}

// PUT /snapshot/create: the VMM thread creates the state and memory files, write-only; it can
// still open nothing for reading (nor read-write).
TEST(SeccompFilter, TheVmmThreadOpensFilesForWritingOnly) {
  char dir[] = "/tmp/vessel-seccomp-test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/snap";
  EXPECT_TRUE(exited_zero(in_confined_child(ThreadKind::Vmm, [&] {
    long fd = ::syscall(SYS_openat, AT_FDCWD, path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) _exit(1);
  })));
  EXPECT_TRUE(killed_by_sigsys(in_confined_child(ThreadKind::Vmm, [&] {
    (void)::syscall(SYS_openat, AT_FDCWD, path.c_str(), O_RDWR);
  })));
  EXPECT_TRUE(killed_by_sigsys(in_confined_child(ThreadKind::Vcpu, [&] {
    (void)::syscall(SYS_openat, AT_FDCWD, path.c_str(), O_WRONLY);
  })));
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST(SeccompFilter, TheWholeProcessDiesNotJustTheThread) {
  int st = in_confined_child(ThreadKind::Vcpu, [] {
    std::thread t([] { (void)::syscall(SYS_getuid); });  // clone is not allowed on a vCPU: first call kills
    t.join();
  });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
  // A thread that may start threads: the child's forbidden call ends the parent too.
  st = in_confined_child(ThreadKind::Virtio, [] {
    std::thread t([] { (void)::syscall(SYS_getuid); });
    t.join();
    ::sleep(5);  // not reached
  });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
}

TEST(SeccompFilter, IoctlsAreCheckedByRequestNumber) {
  // KVM_RUN on a descriptor that is no vCPU fails with EBADF/ENOTTY: the filter let it through.
  int st = in_confined_child(ThreadKind::Vcpu, [] {
    if (::ioctl(-1, KVM_RUN, 0) == 0 || errno != EBADF) exit_now(3);
  });
  EXPECT_TRUE(exited_zero(st)) << st;
  // Creating a VM is not something a vCPU does.
  st = in_confined_child(ThreadKind::Vcpu, [] { (void)::ioctl(-1, KVM_CREATE_VM, 0); });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
  // A terminal ioctl either.
  st = in_confined_child(ThreadKind::Vcpu, [] { (void)::ioctl(0, TCGETS, nullptr); });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
  // The VMM thread of a VM that restarts may build VMs; the plain one may not.
  st = in_confined_child(ThreadKind::Vmm, [] { (void)::ioctl(-1, KVM_CREATE_VM, 0); });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
  st = in_confined_child(ThreadKind::Vmm, [] { (void)::ioctl(-1, KVM_CREATE_VM, 0); }, true);
  EXPECT_TRUE(exited_zero(st)) << st;
}

// vhost-net: only its device thread may start and stop rings; opening an instance or changing its
// memory table is the VMM thread's (when it rebuilds VMs); no other device thread or vCPU has any.
TEST(SeccompFilter, VhostIoctlsOnlyWhereTheyBelong) {
  int st = in_confined_child(ThreadKind::VirtioVhostNet, [] {
    vhost_vring_file f{0, -1};
    if (::ioctl(-1, VHOST_NET_SET_BACKEND, &f) == 0 || errno != EBADF) exit_now(3);
    vhost_vring_state s{0, 0};
    if (::ioctl(-1, VHOST_GET_VRING_BASE, &s) == 0 || errno != EBADF) exit_now(4);
  });
  EXPECT_TRUE(exited_zero(st)) << st;
  st = in_confined_child(ThreadKind::VirtioVhostNet, [] { (void)::ioctl(-1, VHOST_SET_MEM_TABLE, nullptr); });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
  st = in_confined_child(ThreadKind::VirtioVhostNet, [] { (void)::ioctl(-1, VHOST_SET_OWNER, nullptr); });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
  for (ThreadKind kind : {ThreadKind::Virtio, ThreadKind::Vcpu, ThreadKind::Vmm}) {
    st = in_confined_child(kind, [] { (void)::ioctl(-1, VHOST_NET_SET_BACKEND, nullptr); });
    EXPECT_TRUE(killed_by_sigsys(st)) << to_string(kind) << " " << st;
  }
  st = in_confined_child(ThreadKind::Vmm, [] { (void)::ioctl(-1, VHOST_SET_MEM_TABLE, nullptr); }, true);
  EXPECT_TRUE(exited_zero(st)) << st;
}

TEST(SeccompFilter, ExecutableMemoryAndNewProcessesAreRefused) {
  int st = in_confined_child(ThreadKind::Virtio, [] {
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) exit_now(3);
  });
  EXPECT_TRUE(exited_zero(st)) << st;
  st = in_confined_child(ThreadKind::Virtio, [] {
    (void)::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
  st = in_confined_child(ThreadKind::Api, [] {
    static char buf[4096];
    (void)::mprotect(reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(buf) & ~uintptr_t{4095}), 4096,
                     PROT_READ | PROT_WRITE | PROT_EXEC);
  });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
  // fork() is clone without CLONE_THREAD: refused even where threads may be started.
  st = in_confined_child(ThreadKind::Api, [] { (void)::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); });
  EXPECT_TRUE(killed_by_sigsys(st)) << st;
  // clone3 answers ENOSYS (its flags cannot be checked), so glibc falls back to clone.
  st = in_confined_child(ThreadKind::Api, [] {
    if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) exit_now(3);
  });
  EXPECT_TRUE(exited_zero(st)) << st;
}

// PUT /migration/send (docs/vmm/migration.md): the VMM thread connects a Unix or TCP stream to
// the receiver, and nothing else.
TEST(SeccompFilter, TheVmmThreadMakesOnlyAMigrationsSockets) {
  for (int family : {AF_UNIX, AF_INET, AF_INET6})
    EXPECT_TRUE(exited_zero(in_confined_child(ThreadKind::Vmm, [family] {
      if (::syscall(SYS_socket, family, SOCK_STREAM | SOCK_CLOEXEC, 0) < 0) _exit(1);
    }))) << family;
  for (int family : {AF_NETLINK, AF_PACKET})
    EXPECT_TRUE(killed_by_sigsys(in_confined_child(ThreadKind::Vmm, [family] {
      (void)::syscall(SYS_socket, family, SOCK_RAW, 0);
    }))) << family;
  EXPECT_TRUE(killed_by_sigsys(in_confined_child(ThreadKind::Vcpu, [] {
    (void)::syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
  })));
}

}  // namespace
}  // namespace vessel::vmm::sandbox
