#include "runtime/linux/container_init.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/hooks.h"
#include "runtime/linux/loopback.h"
#include "runtime/linux/sync.h"
#include "runtime/linux/user_process.h"

namespace vessel::runtime {

namespace {

// ---- stage 2: the container's init -------------------------------------------------------

Result<void> init_body(InitContext& c, bool* ready_sent) {
  const Spec& spec = *c.spec;
  const Process& proc = *spec.process;
  setsid();
  // Set here, before the process can run anything, while the host's /proc is still mounted: the
  // parent's write on the Pid message can come after a `run` has already exec'd and forked.
  if (proc.oom_score_adj)
    TRY_CTX(write_file("/proc/self/oom_score_adj", std::to_string(*proc.oom_score_adj)), "process.oomScoreAdj");
  TRY(seal_fds(c.opts->preserve_fds));
  // Without its own mount namespace the container shares the host's mounts: mount nothing
  // (it would change the host), only chroot into the rootfs, as runc does.
  bool mntns = spec.find_namespace("mount") != nullptr;
  if (mntns) TRY_CTX(prepare_rootfs(spec, c.rootfs), "prepare rootfs");
  const Hooks& h = spec.hooks;
  if (!h.prestart.empty() || !h.create_runtime.empty() || !h.create_container.empty()) {
    if (!sync_send(c.sock, SyncType::Hooks)) return fail_errno("sync");
    SyncMsg m;
    if (!sync_recv(c.sock, &m) || m.type != SyncType::HooksDone)
      return fail(ECANCELED, "runtime hooks failed");
    TRY(run_hooks(h.create_container, "createContainer", m.text));
  }
  if (mntns) {
    TRY_CTX(enter_rootfs(spec, c.rootfs), "enter rootfs");
  } else if (chroot(c.rootfs.rootfs.c_str()) != 0 || chdir("/") != 0) {
    return fail_errno("chroot {}", c.rootfs.rootfs);
  }
  bool uts = spec.find_namespace("uts") != nullptr;  // never touch the host's names
  if (uts && spec.has_hostname && sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    return fail_errno("sethostname {}", spec.hostname);
  if (uts && spec.has_domainname && setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
    return fail_errno("setdomainname {}", spec.domainname);
  if (mntns) TRY(finish_rootfs(spec));
  if (proc.terminal) TRY(setup_terminal(c.console, proc.console_size, proc.user.uid, proc.user.gid));
  auto path = find_executable(proc);
  if (!path) report_command_failure(c.sock, path.error());
  TRY(apply_rlimits(proc));
  std::vector<std::string> env = process_env(proc);
  auto load_filter = [&]() -> Result<void> {
    if (!c.bpf.empty()) {
      TRY(lock_down(proc, nullptr));
      return load_bpf(c.bpf, c.bpf_flags);
    }
    Fd notify = TRY(lock_down(proc, c.seccomp));
    if (notify && c.seccomp_listener >= 0)
      TRY_CTX(send_seccomp_listener(c.seccomp_listener, notify.get(), "{}"), "seccomp listenerPath");
    return {};
  };
  bool filtered = c.seccomp || !c.bpf.empty();
  if (filtered && !proc.no_new_privileges) TRY(load_filter());
  bool late_identity = !h.start_container.empty();
  if (!late_identity) {
    TRY(become_user(proc));
    TRY(enter_cwd(proc.cwd));
  }
  if (!sync_send(c.sock, SyncType::Ready)) return fail_errno("sync");
  *ready_sent = true;
  if (c.wait_fifo) {
    int fd;
    do fd = openat(c.state_dir, "exec.fifo", O_WRONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return fail_errno("open exec fifo");
    (void)!write(fd, "0", 1);
    close(fd);
  }
  if (late_identity) {
    TRY(run_hooks(h.start_container, "startContainer", "{}"));
    TRY(become_user(proc));
    TRY(enter_cwd(proc.cwd));
  }
  if (proc.no_new_privileges) {
    if (filtered) TRY(load_filter());
    else TRY(lock_down(proc, nullptr));
  }
  exec_process(*path, proc, env);
}

[[noreturn]] void init_main(InitContext& c) {
  bool ready = false;
  auto r = init_body(c, &ready);
  std::string text = r ? std::string("init returned") : r.error().to_string();
  if (ready) {
    std::string msg = "vessel-runtime: error: " + text + "\n";
    (void)!write(2, msg.data(), msg.size());
  } else {
    sync_send(c.sock, SyncType::Error, 0, text, r ? 0 : r.error().errnum());
  }
  _exit(127);
}

// What new namespaces need before init runs: a loopback that is up, the time offsets.
Result<void> set_up_new_namespaces(const Spec& spec, int flags) {
  if (flags & CLONE_NEWNET) TRY_CTX(bring_up_loopback(), "the new network namespace");
  if (!spec.linux->time_offsets.empty()) {
    std::string text;
    for (const auto& [clock, off] : spec.linux->time_offsets)
      text += fmt::format("{} {} {}\n", clock, off.secs, off.nanosecs);
    TRY_CTX(write_file("/proc/self/timens_offsets", text), "linux.timeOffsets");
  }
  return {};
}

}  // namespace

// ---- stage 1: namespaces ----------------------------------------------------------------

Result<void> stage1_body(InitContext& c) {
  const Spec& spec = *c.spec;
  TRY(sync_expect(c.sock, SyncType::Go));
  for (auto& j : c.joins)
    if (setns(j.fd.get(), namespace_flag(j.type)) != 0) return fail_errno("join the {} namespace", j.type);
  if (spec.creates_namespace("user")) {
    if (unshare(CLONE_NEWUSER) != 0) return fail_errno("create user namespace");
    if (!sync_send(c.sock, SyncType::UsernsReady, getpid())) return fail_errno("sync");
    TRY(sync_expect(c.sock, SyncType::UsernsDone));
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) return fail_errno("become root in the user namespace");
  }
  int flags = 0;
  for (const auto& ns : spec.linux->namespaces)
    if (ns.path.empty() && ns.type != "user") flags |= namespace_flag(ns.type);
  if (flags && unshare(flags) != 0) return fail_errno("create namespaces (unshare {:#x})", flags);
  TRY(set_up_new_namespaces(spec, flags));
  long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) return fail_errno("clone the container init");
  if (pid == 0) init_main(c);
  if (!sync_send(c.sock, SyncType::Pid, static_cast<int32_t>(pid))) return fail_errno("sync");
  return {};
}

// The cgroup namespace is not among the clone flags: its root is the cgroup of the process that
// creates it, and init is moved into the container's cgroup only after the clone (Go).
int direct_init_clone_flags(const InitContext& c) {
  const Spec& spec = *c.spec;
  if (!c.joins.empty() || spec.find_namespace("user") || spec.find_namespace("time")) return 0;
  int flags = 0;
  for (const auto& ns : spec.linux->namespaces)
    if (ns.type != "cgroup") flags |= namespace_flag(ns.type);
  return flags;
}

Result<void> direct_init_body(InitContext& c) {
  const Spec& spec = *c.spec;
  TRY(sync_expect(c.sock, SyncType::Go));
  if (spec.creates_namespace("cgroup") && unshare(CLONE_NEWCGROUP) != 0) return fail_errno("create the cgroup namespace");
  TRY(set_up_new_namespaces(spec, direct_init_clone_flags(c)));
  init_main(c);
}

}  // namespace vessel::runtime
