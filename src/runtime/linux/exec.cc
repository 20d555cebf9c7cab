// exec: a new process in a running container. The runtime joins the container's PID namespace
// itself (that join applies to its children only) and forks the process, which joins the others
// (those that differ from ours), takes the container's rlimits, identity, capabilities and seccomp
// filter and execs. One fork, where runc's design has two.
#include <fcntl.h>
#include <sched.h>
#include <linux/nsfs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "base/fd.h"
#include "runtime/container.h"
#include "runtime/linux/stage1.h"
#include "runtime/linux/sync.h"
#include "runtime/linux/sys.h"
#include "runtime/linux/user_process.h"
#include "runtime/linux/wait_child.h"

namespace vessel::runtime {

namespace {

struct ExecContext {
  Process proc;
  std::vector<std::pair<int, Fd>> joins;  // flag, fd
  int sock = -1;
  int console = -1;
  int preserve_fds = 0;
  SeccompFilter* seccomp = nullptr;
  std::string bpf;  // the container's filter as compiled at create
  unsigned bpf_flags = 0;
};

Result<void> exec_lock_down(ExecContext& c) {
  if (c.proc.no_new_privileges) TRY(lock_down(c.proc, nullptr));
  if (!c.bpf.empty()) return load_bpf(c.bpf, c.bpf_flags);
  if (c.seccomp) TRY(lock_down(c.proc, c.seccomp));
  return {};
}

Result<void> exec_body(ExecContext& c) {
  TRY(seal_fds(c.preserve_fds));
  if (c.proc.terminal) {
    setsid();
    TRY(setup_terminal(c.console, c.proc.console_size, c.proc.user.uid, c.proc.user.gid));
  }
  auto path = find_executable(c.proc);
  if (!path) report_command_failure(c.sock, path.error());
  TRY(apply_rlimits(c.proc));
  std::vector<std::string> env = process_env(c.proc);
  bool filtered = c.seccomp || !c.bpf.empty();
  if (filtered && !c.proc.no_new_privileges) TRY(exec_lock_down(c));
  TRY(become_user(c.proc));
  TRY(enter_cwd(c.proc.cwd));
  if (c.proc.no_new_privileges) TRY(exec_lock_down(c));
  exec_process(*path, c.proc, env);
}

[[noreturn]] void exec_child(ExecContext& c) {
  auto r = exec_body(c);
  sync_send(c.sock, SyncType::Error, 0, r ? "exec returned" : r.error().to_string(), r ? 0 : r.error().errnum());
  _exit(127);
}

// The forked process: in the container's cgroup (Go), it joins the namespaces and execs.
Result<void> process_body(ExecContext& c) {
  TRY(sync_expect(c.sock, SyncType::Go));
  for (auto& [flag, fd] : c.joins)
    if (setns(fd.get(), flag) != 0) return fail_errno("join namespace {:#x} of the container", flag);
  exec_child(c);
}

// The PID namespace, joined by the runtime for the child it forks next; taken out of the joins.
// Returns our own, to go back to once the child is forked: while the namespace for children
// differs from ours, clone(CLONE_THREAD) fails (EINVAL), and a sanitizer's exit-time thread spun.
Result<Fd> join_pid_namespace_for_children(ExecContext& c) {
  auto pid = std::find_if(c.joins.begin(), c.joins.end(), [](const auto& j) { return j.first == CLONE_NEWPID; });
  if (pid == c.joins.end()) return Fd();
  Fd own = TRY(Fd::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
  if (setns(pid->second.get(), CLONE_NEWPID) != 0) return fail_errno("join the PID namespace of the container");
  c.joins.erase(pid);
  return own;
}

Result<std::pair<uint32_t, uint32_t>> parse_user(const std::string& text) {
  auto colon = text.find(':');
  auto num = [&](const std::string& s) -> Result<uint32_t> {
    char* end = nullptr;
    unsigned long v = strtoul(s.c_str(), &end, 10);
    if (s.empty() || *end || v > UINT32_MAX) return fail(EINVAL, "--user: \"{}\" is not a numeric uid[:gid]", text);
    return static_cast<uint32_t>(v);
  };
  uint32_t uid = TRY(num(text.substr(0, colon)));
  uint32_t gid = colon == std::string::npos ? 0 : TRY(num(text.substr(colon + 1)));
  return std::make_pair(uid, gid);
}

// The process to run: --process's JSON, or the container's process with the flags' changes.
Result<Process> process_from_flags(const ExecOptions& o, const Spec& spec) {
  if (!o.process_file.empty()) {
    auto text = TRY_CTX(read_file(o.process_file), "--process");
    auto doc = TRY_CTX(json::parse(text, kMaxConfigBytes, kMaxConfigDepth), "--process {}", o.process_file);
    Process proc = TRY_CTX(parse_process(doc, "process"), "--process {}", o.process_file);
    if (proc.args.empty()) return fail(EINVAL, "--process: args must not be empty");
    return proc;
  }
  if (o.args.empty()) return fail(EINVAL, "exec needs a command to run");
  Process proc = spec.process.value_or(Process{});
  proc.args = o.args;
  proc.terminal = o.tty;
  proc.console_size.reset();
  for (const auto& e : o.env) {
    if (e.find('=') == std::string::npos) return fail(EINVAL, "--env: \"{}\" is not NAME=VALUE", e);
    std::string name = e.substr(0, e.find('='));
    std::erase_if(proc.env, [&](const std::string& x) { return x.rfind(name + "=", 0) == 0; });
    proc.env.push_back(e);
  }
  if (!o.cwd.empty()) proc.cwd = o.cwd;
  if (!o.user.empty()) {
    auto [uid, gid] = TRY(parse_user(o.user));
    proc.user.uid = uid;
    proc.user.gid = gid;
  }
  for (uint32_t gid : o.additional_gids) proc.user.additional_gids.push_back(gid);
  if (!o.caps.empty()) {
    if (!proc.capabilities) proc.capabilities = Capabilities{};
    for (const auto& name : o.caps) {
      int cap = TRY_CTX(capability_from_name(name), "--cap");
      uint64_t bit = uint64_t{1} << cap;
      auto& k = *proc.capabilities;
      k.bounding |= bit;
      k.effective |= bit;
      k.permitted |= bit;
      k.inheritable |= bit;
      k.ambient |= bit;
    }
  }
  if (o.no_new_privs) proc.no_new_privileges = true;
  return proc;
}

// The container's filter: the BPF compiled at create, or compiled again when none was saved.
Result<void> container_filter(const StateStore& store, const std::string& id, const Spec& spec,
                              std::optional<SeccompFilter>& filter, ExecContext& c) {
  if (!spec.linux || !spec.linux->seccomp) return {};
  auto saved = read_file(store.dir(id) + "/seccomp.bpf");
  if (saved && !saved->empty()) {
    c.bpf = std::move(*saved);
    c.bpf_flags = TRY(seccomp_flags(*spec.linux->seccomp));
  } else {
    filter = TRY_CTX(SeccompFilter::compile(*spec.linux->seccomp), "linux.seccomp");
    c.seccomp = &*filter;
  }
  return {};
}

// The container's namespaces that differ from ours, user first and mount last (it changes our root).
Result<void> open_namespaces(pid_t pid, ExecContext& c) {
  const std::pair<const char*, int> order[] = {
      {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},
      {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID},       {"cgroup", CLONE_NEWCGROUP},
      {"time", 0x80},          {"mnt", CLONE_NEWNS}};
  for (const auto& [name, flag] : order) {
    std::string theirs = fmt::format("/proc/{}/ns/{}", pid, name);
    struct stat a, b;
    if (stat(theirs.c_str(), &a) != 0) {
      if (errno == ENOENT) continue;
      return fail_errno("stat {}", theirs);
    }
    if (stat(fmt::format("/proc/self/ns/{}", name).c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
      continue;
    Fd fd = TRY(Fd::open(theirs, O_RDONLY));
    c.joins.emplace_back(flag, std::move(fd));
  }
  // A namespace our user namespace owns (a network namespace the manager made and the container
  // joined by path) is joined before the container's user namespace: inside it we could not.
  struct stat own;
  if (stat("/proc/self/ns/user", &own) == 0) {
    auto ours = [&](const std::pair<int, Fd>& j) {
      if (j.first == CLONE_NEWUSER) return false;
      Fd owner(ioctl(j.second.get(), NS_GET_USERNS));
      struct stat st;
      return owner && fstat(owner.get(), &st) == 0 && st.st_ino == own.st_ino && st.st_dev == own.st_dev;
    };
    std::stable_partition(c.joins.begin(), c.joins.end(), ours);
  }
  return {};
}

// Forks the process in the container's cgroup; returns its pid once it has exec'd.
Result<pid_t> start_process(const ContainerState& s, ExecContext& c) {
  Fd own_pidns = TRY(join_pid_namespace_for_children(c));
  auto forked = fork_stage1([&](int sock) {
    c.sock = sock;
    return process_body(c);
  });
  if (own_pidns && setns(own_pidns.get(), CLONE_NEWPID) != 0) return fail_errno("return to the runtime's PID namespace");
  Stage1 child = TRY(std::move(forked));
  auto cleanup = [&]() {
    ::kill(child.pid, SIGKILL);
    waitpid(child.pid, nullptr, 0);
  };
  if (auto r = s.cgroup.add_process(child.pid); !r) {
    cleanup();
    return Unexpected(std::move(r).error());
  }
  sync_send(child.sock.get(), SyncType::Go);
  SyncMsg m;
  if (sync_recv(child.sock.get(), &m) && m.type == SyncType::Error) {  // else EOF: it exec'd
    note_command_status(m.value);
    cleanup();
    Error e(0, m.text);
    if (m.value == 0) e.add_context("exec");  // a command failure already says "exec: ..."
    return Unexpected(std::move(e));
  }
  return child.pid;
}

}  // namespace

Result<int> exec(const GlobalOptions& g, const ExecOptions& o) {
  StateStore store(g.root);
  ContainerState s = TRY(store.load(o.id));
  Status st = store.status(s);
  if (st == Status::Paused && !o.ignore_paused) return fail(EINVAL, "cannot exec in a paused container");
  if (st != Status::Running && st != Status::Created && st != Status::Paused)
    return fail(EINVAL, "cannot exec in a container that is {}", status_name(st));
  Spec spec = TRY_CTX(parse_spec(TRY(read_file(store.dir(o.id) + "/config.json"))), "saved config");
  ExecContext c;
  c.proc = TRY(process_from_flags(o, spec));
  c.preserve_fds = o.preserve_fds;
  std::optional<SeccompFilter> filter;
  TRY(container_filter(store, o.id, spec, filter, c));
  Fd console, own_console;
  if (c.proc.terminal) {
    if (!o.console_socket.empty()) {
      console = TRY_CTX(connect_unix(o.console_socket), "--console-socket");
    } else if (!o.detach) {
      auto pair = TRY(self_console_pair());
      own_console = std::move(pair.first);
      console = std::move(pair.second);
    } else {
      return fail(EINVAL, "--tty with --detach needs --console-socket");
    }
    c.console = console.get();
  }
  TRY(open_namespaces(s.pid, c));
  if (sys::process_start_time(s.pid) != s.pid_start) return fail(ESRCH, "container init has exited");
  pid_t child = TRY(start_process(s, c));
  if (!o.pid_file.empty()) TRY(write_pid_file(o.pid_file, child));
  if (o.detach) return 0;
  Fd pty_master;
  if (own_console) pty_master = TRY(receive_pty_master(own_console.get()));
  return wait_forwarding_signals(child, pty_master ? pty_master.get() : -1);
}

}  // namespace vessel::runtime
