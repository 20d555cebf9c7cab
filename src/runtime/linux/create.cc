// create / run: the runtime forks stage 1, which joins or creates the namespaces and forks the
// container's init (stage 2, a child of the runtime through CLONE_PARENT: container_init.cc).
// Init builds the rootfs, reports Ready and blocks on exec.fifo until `start`. A failure anywhere
// kills both, removes the cgroup and the state directory: a failed create leaves nothing behind.
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <optional>

#include "base/fd.h"
#include "base/log.h"
#include "runtime/cgroups/systemd_scope.h"
#include "runtime/container.h"
#include "runtime/linux/apply_resources.h"
#include "runtime/hooks.h"
#include "runtime/linux/container_init.h"
#include "runtime/linux/mounts.h"
#include "runtime/linux/seccomp.h"
#include "runtime/linux/stage1.h"
#include "runtime/linux/sync.h"
#include "runtime/linux/sys.h"
#include "runtime/linux/user_process.h"
#include "runtime/linux/wait_child.h"
#include "runtime/spec/systemd_path.h"

namespace vessel::runtime {

namespace {

Result<void> check_namespace_fd(const Namespace& ns, int fd) {
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type < 0) {
    if (errno == ENOTTY || errno == EINVAL)
      return fail(EINVAL, "linux.namespaces: {} is not a namespace file", ns.path);
    return fail_errno("linux.namespaces: check {}", ns.path);
  }
  if (type != namespace_flag(ns.type))
    return fail(EINVAL, "linux.namespaces: {} is not a {} namespace", ns.path, ns.type);
  return {};
}

Result<void> write_id_map(pid_t pid, const char* file, const std::vector<IdMapping>& maps) {
  std::string text;
  for (const auto& m : maps) text += fmt::format("{} {} {}\n", m.container_id, m.host_id, m.size);
  TRY_CTX(write_file(fmt::format("/proc/{}/{}", pid, file), text), "write {}", file);
  return {};
}

// Undoes a partial create unless dismissed.
struct CreateGuard {
  const StateStore* store = nullptr;
  std::string id;
  std::optional<Cgroup> cgroup;
  std::string systemd_unit;
  std::vector<pid_t> pids;
  bool armed = true;
  ~CreateGuard() {
    if (!armed) return;
    for (pid_t p : pids) {
      ::kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
    if (cgroup) (void)cgroup->kill_all(SIGKILL);
    if (!systemd_unit.empty()) (void)stop_systemd_scope(systemd_unit);
    if (cgroup) (void)cgroup->destroy();
    if (store) (void)store->remove(id);
  }
};

std::string absolute(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf)) return buf;
  return path;
}

// The seccomp filter: compiled to BPF (cached under the root) unless it notifies, which needs
// libseccomp's notify fd at load time.
Result<void> prepare_seccomp(const GlobalOptions& g, const Spec& spec, std::optional<SeccompFilter>& filter,
                             InitContext& c) {
  if (!spec.linux->seccomp) return {};
  const Seccomp& profile = *spec.linux->seccomp;
  TRY_CTX(check_seccomp(profile), "linux.seccomp");
  bool notify = profile.default_action == "SCMP_ACT_NOTIFY";
  for (const auto& r : profile.syscalls) notify |= r.action == "SCMP_ACT_NOTIFY";
  if (notify) {
    filter = TRY_CTX(SeccompFilter::compile(profile), "linux.seccomp");
    c.seccomp = &*filter;
  } else {
    c.bpf = TRY_CTX(compiled_bpf(profile, g.root + "/seccomp-cache"), "linux.seccomp");
    c.bpf_flags = TRY(seccomp_flags(profile));
  }
  return {};
}

// Opens and checks every namespace to join before anything is created.
Result<void> open_joins(const Spec& spec, InitContext& c) {
  for (const char* type : {"user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount"}) {
    const Namespace* ns = spec.find_namespace(type);
    if (!ns || ns->path.empty()) continue;
    Fd fd = TRY_CTX(Fd::open(ns->path, O_RDONLY), "linux.namespaces: open {}", ns->path);
    TRY(check_namespace_fd(*ns, fd.get()));
    c.joins.push_back({type, std::move(fd)});
  }
  return {};
}

// The sockets init needs: the console's (or our own pty pair's) and seccomp's listener.
struct Sockets {
  Fd console, own_console, listener;
};

Result<void> open_sockets(const Spec& spec, const CreateOptions& o, bool foreground,
                          const std::optional<SeccompFilter>& filter, Sockets& k, InitContext& c) {
  if (spec.process->terminal) {
    if (!o.console_socket.empty()) {
      k.console = TRY_CTX(connect_unix(o.console_socket), "--console-socket");
    } else if (foreground) {
      // No console socket: we take the pty ourselves and relay it to our stdio, as runc does.
      auto pair = TRY(self_console_pair());
      k.own_console = std::move(pair.first);
      k.console = std::move(pair.second);
    } else {
      return fail(EINVAL, "process.terminal is true but no --console-socket was given");
    }
    c.console = k.console.get();
  }
  if (filter && filter->uses_notify() && !spec.linux->seccomp->listener_path.empty()) {
    k.listener = TRY_CTX(connect_unix(spec.linux->seccomp->listener_path), "linux.seccomp.listenerPath");
    c.seccomp_listener = k.listener.get();
  }
  return {};
}


// The container's init, known: its pid in the state, killed if create fails.
Result<void> adopt_init(pid_t pid, const Spec& spec, ContainerState& s, CreateGuard& guard) {
  s.pid = pid;
  guard.pids.push_back(pid);
  s.pid_start = sys::process_start_time(pid);
  if (spec.process->oom_score_adj)
    TRY_CTX(write_file(fmt::format("/proc/{}/oom_score_adj", pid), std::to_string(*spec.process->oom_score_adj)),
            "process.oomScoreAdj");
  return {};
}

// Answers the children until init is Ready: id maps, init's pid, the runtime hooks. Stage 1 sends
// init's pid after clone returns, while init already runs: on a loaded host init's Hooks or Ready
// can overtake it (a `run` then waited for pid 0), so those wait until the pid is known.
// With no stage 1 (stage1 == 0) init is adopted before and no Pid message comes.
Result<void> follow_setup(int sock, const Spec& spec, pid_t stage1, ContainerState& s, CreateGuard& guard) {
  std::optional<SyncMsg> overtaking;
  for (;;) {
    SyncMsg m;
    if (overtaking && s.pid != 0) {
      m = std::move(*overtaking);
      overtaking.reset();
    } else if (!sync_recv(sock, &m)) {
      return fail(ECHILD, "container init exited during setup");
    }
    if ((m.type == SyncType::Hooks || m.type == SyncType::Ready) && s.pid == 0) {
      overtaking = std::move(m);
      continue;
    }
    if (m.type == SyncType::Error) {
      note_command_status(m.value);
      return Unexpected(Error(0, m.text).add_context("container init"));
    }
    if (m.type == SyncType::UsernsReady) {
      TRY(write_id_map(m.value, "uid_map", spec.linux->uid_mappings));
      TRY(write_id_map(m.value, "gid_map", spec.linux->gid_mappings));
      sync_send(sock, SyncType::UsernsDone);
    } else if (m.type == SyncType::Pid) {
      TRY(adopt_init(m.value, spec, s, guard));
      waitpid(stage1, nullptr, 0);
      guard.pids.erase(guard.pids.begin());
    } else if (m.type == SyncType::Hooks) {
      // runtime-tools (and runc) hand these hooks the state "created".
      std::string creating = oci_state(s, Status::Created).dump();
      TRY(run_hooks(spec.hooks.prestart, "prestart", creating));
      TRY(run_hooks(spec.hooks.create_runtime, "createRuntime", creating));
      sync_send(sock, SyncType::HooksDone, 0, oci_state(s, Status::Created).dump());
    } else if (m.type == SyncType::Ready) {
      return {};
    }
  }
}

// run in the foreground: the init is our child (CLONE_PARENT); forward signals, wait, delete.
Result<int> run_foreground(const StateStore& store, const ContainerState& s, const Spec& spec, int pty_master) {
  std::string running = oci_state(s, Status::Running).dump();
  if (auto r = run_hooks(spec.hooks.poststart, "poststart", running); !r) {
    ::kill(s.pid, SIGKILL);
    waitpid(s.pid, nullptr, 0);
    (void)destroy(store, s);
    return Unexpected(std::move(r).error());
  }
  auto status = wait_forwarding_signals(s.pid, pty_master);
  (void)destroy(store, s);
  return status;
}

// The bundle's spec, with its rootfs resolved and checked.
Result<Spec> load_bundle(const std::string& bundle, std::string& rootfs) {
  Spec spec = TRY(load_spec(bundle));
  if (!spec.process) return fail(EINVAL, "process: required by create");
  if (!spec.linux) spec.linux = Linux{};
  rootfs = absolute(spec.root_path[0] == '/' ? spec.root_path : bundle + "/" + spec.root_path);
  struct stat st;
  if (stat(rootfs.c_str(), &st) != 0) return fail_errno("root.path {}", rootfs);
  if (!S_ISDIR(st.st_mode)) return fail(ENOTDIR, "root.path {} is not a directory", rootfs);
  return spec;
}

// The new state directory's files: saved config, exec.fifo and the compiled filter.
Result<Fd> fill_state_dir(const StateStore& store, const CreateOptions& o, const std::string& bundle,
                          const InitContext& c) {
  std::string dir = store.dir(o.id);
  TRY(write_file(dir + "/config.json", read_file(bundle + "/config.json").value_or("{}")));
  // 0622 whatever the umask: init may open it as the container's (non-root) user.
  if (c.wait_fifo && (mkfifo(store.fifo(o.id).c_str(), 0622) != 0 || chmod(store.fifo(o.id).c_str(), 0622) != 0))
    return fail_errno("create exec fifo");
  if (!c.bpf.empty()) TRY(write_file(dir + "/seccomp.bpf", c.bpf));
  return Fd::open(dir, O_PATH | O_DIRECTORY);
}

// The container's cgroup before stage 1 exists: created (cgroupfs), or planned where systemd will
// put the scope that join_cgroup() has it make with stage 1 in it.
Result<Cgroup> make_cgroup(const GlobalOptions& g, const Spec& spec, const std::string& id,
                           std::optional<SystemdScope>& scope) {
  CgroupHost host = TRY(CgroupHost::detect());
  if (g.systemd_cgroup) {
    scope = TRY(plan_systemd_scope(spec.linux->cgroups_path, id));
    return Cgroup::plan(host, scope->cgroup_path);
  }
  if (looks_like_systemd_path(spec.linux->cgroups_path))
    return hinted(fail(EINVAL, "linux.cgroupsPath: \"{}\" is a systemd slice:prefix:name path", spec.linux->cgroups_path),
                  "run with --systemd-cgroup (the systemd cgroup driver), or give a cgroupfs path");
  std::string cg_path = spec.linux->cgroups_path.empty() ? "/" + id : spec.linux->cgroups_path;
  Cgroup cgroup = TRY(Cgroup::plan(host, cg_path));
  TRY(cgroup.create());
  // Joining a frozen cgroup would freeze us mid-create: refuse, like runc.
  if (cgroup.frozen().value_or(false)) return fail(EBUSY, "cgroup {} is frozen", cg_path);
  return cgroup;
}

// Puts stage 1 in the container's cgroup. systemd: the scope starts with it inside, then the
// hierarchies systemd leaves out (v1's net_cls, perf_event...) are joined as with cgroupfs.
Result<void> join_cgroup(Cgroup& cgroup, const std::optional<SystemdScope>& scope, const Spec& spec,
                         const std::string& id, pid_t pid, CreateGuard& guard) {
  if (scope) {
    TRY(start_systemd_scope(*scope, id, pid, spec.linux->resources, cgroup.layout() == CgroupLayout::V2));
    // Ours to undo only now: a failed start (a scope of that name exists) must not touch it.
    guard.systemd_unit = scope->unit;
    guard.cgroup = cgroup;
    std::string placed = TRY(systemd_cgroup_of(pid));
    if (placed != scope->cgroup_path)
      return fail(EIO, "systemd put scope {} at cgroup {}, not at {}", scope->unit, placed, scope->cgroup_path);
    TRY(cgroup.create());
  }
  return cgroup.add_process(pid);
}

Result<int> create_impl(const GlobalOptions& g, const CreateOptions& o, bool foreground) {
  TRY(check_id(o.id));
  if (g.systemd_cgroup) TRY(require_systemd());
  std::string bundle = absolute(o.bundle.empty() ? "." : o.bundle);
  std::string rootfs;
  Spec spec = TRY(load_bundle(bundle, rootfs));
  InitContext c;
  c.spec = &spec;
  c.opts = &o;
  c.wait_fifo = !foreground;
  std::optional<SeccompFilter> filter;
  TRY(prepare_seccomp(g, spec, filter, c));
  TRY(open_joins(spec, c));
  Sockets sockets;
  TRY(open_sockets(spec, o, foreground, filter, sockets, c));

  StateStore store(g.root);
  TRY(store.create_dir(o.id));
  CreateGuard guard;
  guard.store = &store;
  guard.id = o.id;
  Fd state_dir = TRY(fill_state_dir(store, o, bundle, c));
  c.state_dir = state_dir.get();
  std::optional<SystemdScope> scope;
  Cgroup cgroup = TRY(make_cgroup(g, spec, o.id, scope));
  if (!scope) guard.cgroup = cgroup;

  c.rootfs.rootfs = rootfs;
  c.rootfs.bundle = bundle;
  c.rootfs.cgroup = &cgroup;
  c.rootfs.userns = spec.find_namespace("user") != nullptr;
  c.rootfs.cgroupns = spec.find_namespace("cgroup") != nullptr;
  c.rootfs.no_pivot = o.no_pivot;

  int direct_flags = direct_init_clone_flags(c);
  Stage1 stage1 = TRY(fork_stage1(
      [&](int sock) {
        c.sock = sock;
        return direct_flags ? direct_init_body(c) : stage1_body(c);
      },
      direct_flags));
  guard.pids.push_back(stage1.pid);
  TRY(join_cgroup(cgroup, scope, spec, o.id, stage1.pid, guard));
  TRY(apply_resources(cgroup, spec));

  ContainerState s;
  s.id = o.id;
  s.bundle = bundle;
  s.rootfs = rootfs;
  s.created = now_rfc3339();
  s.annotations = spec.annotations;
  s.cgroup = cgroup;
  if (scope) s.systemd_unit = scope->unit;
  s.has_pidns = spec.find_namespace("pid") != nullptr;
  if (direct_flags) {
    guard.pids.clear();
    TRY(adopt_init(stage1.pid, spec, s, guard));
  }
  if (!sync_send(stage1.sock.get(), SyncType::Go)) return fail_errno("sync");
  TRY(follow_setup(stage1.sock.get(), spec, direct_flags ? 0 : stage1.pid, s, guard));
  Fd pty_master;
  if (sockets.own_console) pty_master = TRY(receive_pty_master(sockets.own_console.get()));
  TRY(store.save(s));
  if (!o.pid_file.empty()) TRY(write_pid_file(o.pid_file, s.pid));
  guard.armed = false;
  if (!foreground) return 0;
  return run_foreground(store, s, spec, pty_master ? pty_master.get() : -1);
}

}  // namespace

Result<void> apply_resources(const Cgroup& cgroup, const Spec& spec) {
  if (!spec.linux->resources) return {};
  // The devices every container gets (and those it lists) stay usable whatever the rules say.
  Resources r = *spec.linux->resources;
  if (!r.devices.empty()) {
    auto allow = [&](const char* type, int64_t major, std::optional<int64_t> minor) {
      r.devices.push_back(DeviceRule{true, type, major, minor, "rwm"});
    };
    for (int64_t minor : {3, 5, 7, 8, 9}) allow("c", 1, minor);
    for (int64_t minor : {0, 1, 2}) allow("c", 5, minor);
    allow("c", 136, std::nullopt);
    for (const auto& d : spec.linux->devices)
      if (d.type == 'c' || d.type == 'b' || d.type == 'u') allow(d.type == 'b' ? "b" : "c", d.major, d.minor);
  }
  TRY_CTX(cgroup.apply(r), "linux.resources");
  return {};
}

Result<void> write_pid_file(const std::string& path, pid_t pid) {
  std::string tmp = path + ".tmp";
  TRY_CTX(write_file(tmp, std::to_string(pid)), "--pid-file");
  if (rename(tmp.c_str(), path.c_str()) != 0) return fail_errno("rename pid file {}", path);
  return {};
}

Result<int> create(const GlobalOptions& g, const CreateOptions& o) { return create_impl(g, o, false); }

Result<int> run(const GlobalOptions& g, const CreateOptions& o) {
  if (o.detach) {
    TRY(create_impl(g, o, false));
    auto r = start(g, o.id);
    if (!r) {
      (void)remove(g, o.id, true);
      return Unexpected(std::move(r).error());
    }
    return 0;
  }
  return create_impl(g, o, true);
}

}  // namespace vessel::runtime
