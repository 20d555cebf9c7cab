#include "daemon/instances/vm_backend.h"

#include "daemon/network/tap.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "agent/client/agent_client.h"
#include "http/http.h"
#include "base/log.h"
#include "base/process.h"
#include "base/unix_socket.h"
#include "daemon/instances/vm_balloon.h"
#include "daemon/instances/vm_host.h"
#include "daemon/instances/oom_note.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

namespace {

std::string socket_path(const InstanceContext& ctx) { return vm_run_file(ctx.dir, "vmm.sock"); }

// INSTANCE/run, empty: the last run's sockets and exit file gone.
Result<void> fresh_run_dir(const InstanceContext& ctx) {
  std::string run = ctx.dir + "/run";
  std::error_code ec;
  std::filesystem::remove_all(run, ec);
  if (ec) return fail(ec.value(), "remove {}: {}", run, ec.message());
  if (::mkdir(run.c_str(), 0700) != 0) return fail_errno("mkdir {}", run);
  return {};
}

// The PID in the jailer's pid file (written once the VMM's exec succeeded), or 0.
pid_t read_pid_file(const std::string& path) {
  auto text = read_file(path);
  if (!text || text->empty() || text->back() != '\n') return 0;
  return static_cast<pid_t>(std::strtol(text->c_str(), nullptr, 10));
}

// The jailer's own error (it writes to the console log, through the relay), to put in the
// answer; waits up to 1 s for the relay to write it.
std::string jailer_error(const std::string& log_path) {
  for (int i = 0; i < 100; ++i) {
    auto text = read_file(log_path);
    auto at = text ? text->rfind("vessel-jailer: error: ") : std::string::npos;
    if (at != std::string::npos) return text->substr(at, text->find('\n', at) - at);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "see " + log_path;
}

// The VM's vsock socket on the host, refusing anything but a socket (the directory is the VM's).
Result<std::string> vsock_socket(const InstanceContext& ctx) {
  std::string path = vm_vsock_socket(ctx.dir);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return fail_errno("{}", path);
  if (!S_ISSOCK(st.st_mode)) return fail(EPERM, "{} is not a socket", path);
  return path;
}

Result<std::string> call(const InstanceContext& ctx, const std::string& method, const std::string& path,
                         const json::Json& body = nullptr) {
  return vmm_api(ctx.dir, method, path, body);
}

}  // namespace

Result<std::string> vmm_api(const std::string& instance_dir, const std::string& method, const std::string& path,
                            const json::Json& body, std::chrono::milliseconds timeout) {
  http::ClientOptions options;
  options.unix_socket = vm_run_file(instance_dir, "vmm.sock");
  // The run directory belongs to the VM's uid: connect to a socket, never through a link it planted.
  struct stat st;
  if (::lstat(options.unix_socket.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
    return fail(EPERM, "{} is not a socket", options.unix_socket);
  options.timeout = timeout;
  auto r = TRY_CTX(http::request(options, method, "http://localhost" + path, body.is_null() ? "" : body.dump()),
                   "vessel-vmm API {} {}", method, path);
  if (r.status >= 300) {
    std::string why = r.body;
    auto j = json::parse(r.body);
    if (j && j->is_object() && j->contains("fault_message")) why = j->value("fault_message", why);
    return fail(EIO, "vessel-vmm API {} {}: HTTP {}: {}", method, path, r.status, why);
  }
  return r.body;
}

Result<std::string> VmBackend::api(const InstanceContext& ctx, const std::string& method, const std::string& path,
                                   const json::Json& body) {
  return call(ctx, method, path, body);
}

// Read from /proc/PID/ksm_merging_pages here, not from the VMM's metrics: a jailed VMM has no
// /proc of its own to read it from.

static CgroupLimits vm_cgroup_limits(const InstanceSpec& spec) {
  return {spec.cpus, spec.cpu_weight, spec.memory_mib + kVmmMemoryAllowanceMib, spec.memory_reservation_mib};
}

json::Json VmBackend::extra_stats(const InstanceContext& ctx, pid_t pid) {
  json::Json out = json::Json::object();
  if (!ctx.spec.ksm || pid <= 0) return out;
  auto text = read_file(fmt::format("/proc/{}/ksm_merging_pages", pid));
  if (!text) return out;  // ended meanwhile, or a kernel without it (before 6.1)
  uint64_t pages = std::strtoull(text->c_str(), nullptr, 10);
  out["ksm_merged_pages"] = pages;
  out["ksm_merged_bytes"] = pages * 4096;  // KSM merges 4 KiB pages (a --ksm VM has no huge pages)
  return out;
}

Result<vmm::VmConfig> vmm_config(const InstanceSpec& spec, const BootSource& boot, const std::optional<VmNic>& nic,
                                 const VolumeDisks& volumes) {
  vmm::VmConfig c;
  c.machine.vcpu_count = spec.cpus;
  c.machine.mem_size_mib = spec.memory_mib;
  c.machine.ksm = spec.ksm;
  if (spec.balloon) c.balloon = balloon_config(*spec.balloon);
  if (spec.watchdog) c.watchdog = vmm::WatchdogConfig{*spec.watchdog};
  std::string cmdline = nic ? with_kernel_arg(boot.cmdline, nic->ip_arg) : boot.cmdline;
  // The default guest's /init loads ib700wdt and pets it when told (the board cannot be probed).
  if (spec.watchdog) cmdline = with_kernel_arg(cmdline, "vessel.watchdog=ib700");
  std::string named;
  for (size_t i = 0; i < volumes.size(); ++i)
    named += fmt::format("{}vol{}:{}{}", i ? "," : "", i, volumes[i].first.target, volumes[i].first.read_only ? ":ro" : "");
  if (!named.empty()) cmdline = with_kernel_arg(cmdline, "vessel.volumes=" + named);
  c.boot_source = vmm::BootSource{boot.kernel, std::nullopt, cmdline};
  if (!boot.initramfs.empty()) c.boot_source->initrd_path = boot.initramfs;
  for (size_t i = 0; i < boot.disks.size(); ++i) {
    const DiskSpec& disk = boot.disks[i];
    auto format = vmm::parse_drive_format(disk.format.empty() ? "raw" : disk.format);
    if (!format) return fail(EINVAL, "disk {}: format '{}' is not raw or qcow2", i, disk.format);
    vmm::DriveConfig d{fmt::format("disk{}", i), disk.path, false, disk.read_only, format};
    d.backing_files = disk.backing_files;  // the image store's base under vesseld's own overlay
    c.drives.push_back(std::move(d));
  }
  for (size_t i = 0; i < volumes.size(); ++i)
    c.drives.push_back(vmm::DriveConfig{fmt::format("vol{}", i), volumes[i].second, false, volumes[i].first.read_only,
                                        vmm::DriveFormat::Raw});
  return c;
}

Result<void> VmBackend::preflight() { return check_vm_host(); }

ExitInfo VmBackend::exit_info(const InstanceContext& ctx, const GuestProcess* proc, std::chrono::milliseconds wait) {
  // The relay holds LOG.lock until it has read the pipe to its end (vessel-shim --relay).
  if (auto lock = Fd::open(ctx.log_path + ".lock", O_RDONLY)) {
    for (int i = 0; i < 200 && ::flock(lock->get(), LOCK_SH | LOCK_NB) < 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto jailer = jailer_status(ctx.spec.name, std::chrono::seconds(2));
  {
    std::lock_guard lock(jailers_mutex_);
    jailers_.erase(ctx.spec.name);
  }
  if (auto info = read_exit_file(vm_run_file(ctx.dir, kExitFile), wait)) return *info;
  if (proc && proc->wait_status) return exit_from_wait_status(*proc->wait_status);  // --no-jailer: our child
  if (jailer) return exit_from_jailer_status(*jailer);
  return {std::nullopt, "unknown", "the guest's process ended without an exit file"};
}

Result<Fd> VmBackend::console_sink(const InstanceContext& ctx) {
  if (relay_.empty()) return Fd::open(ctx.log_path, O_WRONLY | O_APPEND | O_CREAT, 0600);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return fail_errno("pipe");
  Fd read_end(fds[0]), write_end(fds[1]);
  Fd null = TRY(Fd::open("/dev/null", O_RDWR));
  SpawnOptions options;
  options.stdin_fd = read_end.get();
  options.stdout_fd = null.get();
  options.stderr_fd = null.get();
  options.new_session = true;
  std::vector<std::string> argv{relay_, "--relay"};
  for (auto& a : log_relay_args(ctx)) argv.push_back(std::move(a));
  auto relay = TRY_CTX(Process::spawn(argv, options), "run {}", relay_);
  auto status = TRY(relay.wait());  // its first process exits at once; the relay lives on detached
  if (!status.success()) return fail(EIO, "{} --relay failed ({})", relay_, status.to_string());
  return write_end;
}

std::vector<std::string> VmBackend::vmm_args(const std::string& in) {
  // --metrics-file: vessel-vmm writes how the VM ended there (read by exit_info(), also after a
  // vesseld restart); --console-sock: the interactive console (docs/daemon/console.md).
  return {"--api-sock", in + "/vmm.sock", "--metrics-file", in + "/" + kExitFile, "--console-sock", in + "/console.sock"};
}

Result<GuestProcess> VmBackend::launch_direct(const InstanceContext& ctx, const SpawnOptions& options,
                                              const std::vector<std::string>& extra) {
  std::vector<std::string> argv{vmm_};
  for (auto& a : vmm_args(ctx.dir + "/run")) argv.push_back(std::move(a));
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto child = TRY_CTX(Process::spawn(argv, options), "run {}", vmm_);
  auto proc = TRY(GuestProcess::attach(child.pid()));
  child.detach();  // the monitor reaps it through its pidfd; a restarted vesseld adopts it
  return proc;
}

Result<GuestProcess> VmBackend::launch_jailed(const InstanceContext& ctx, const BootSource& boot, const SpawnOptions& options,
                                              const std::vector<std::string>& extra) {
  const std::string& name = ctx.spec.name;
  uid_t id = TRY(acquire_jail_id(jail_, name));
  remove_jail(jail_, vmm_, name);  // a stale jail (vesseld died before its cleanup) is never reused
  TRY(grant_jail_files(ctx, boot, id));
  auto cgroup = TRY(cgroup_settings(ctx.cgroup, vm_cgroup_limits(ctx.spec)));
  auto args = vmm_args(kJailRunDir);
  args.insert(args.end(), extra.begin(), extra.end());
  TRY(own_placed(ctx, id));  // the snapshot files or token placed in the run directory, for the VM's uid
  auto argv = TRY(jailer_command(jail_, vmm_, ctx, boot, id, cgroup, args));
  auto child = TRY_CTX(Process::spawn(argv, options), "run {}", jail_.jailer);
  auto jailer = TRY(GuestProcess::attach(child.pid()));
  child.detach();  // reaped by jailer_status(); it waits for the VMM and exits with its status
  std::string pid_file = jail_pid_file(jail_, vmm_, name);
  pid_t pid = 0;
  for (int i = 0; i < 3000 && (pid = read_pid_file(pid_file)) == 0; ++i) {  // up to 30 s
    if (!jailer.alive()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto proc = pid > 0 ? GuestProcess::attach(pid) : Result<GuestProcess>(Unexpected(Error(ESRCH, "no pid file")));
  if (!proc) {
    (void)jailer.signal(SIGKILL);
    jailer.wait_exit(std::chrono::seconds(5));
    return fail(EIO, "{} did not start {} in the jail: {}", jail_.jailer, vmm_, jailer_error(ctx.log_path));
  }
  std::lock_guard lock(jailers_mutex_);
  jailers_.insert_or_assign(name, std::move(jailer));
  return proc;
}

Result<GuestProcess> VmBackend::start(const InstanceContext& ctx, const BootSource& boot) {
  return launch(ctx, boot, false);
}

Result<GuestProcess> VmBackend::launch(const InstanceContext& ctx, const BootSource& boot, bool restoring,
                                       std::vector<std::string> receive, const std::string& token) {
  if (boot.kernel.empty()) return fail(EINVAL, "VM {} has no kernel", ctx.spec.name);
  if (jail_.enabled && ::access(jail_.jailer.c_str(), X_OK) != 0)
    return Unexpected(Error(ENOENT, fmt::format("vessel-jailer not found ({})", jail_.jailer))
                          .with_hint("install it beside vesseld, pass --jailer PATH, or --no-jailer to run VMs unconfined"));
  TRY(fresh_run_dir(ctx));
  bool receiving = !receive.empty();
  std::vector<std::string> extra = std::move(receive);  // --migrate-from (vm_migrate.cc)
  if (restoring) extra = TRY(place_saved(ctx));  // --restore-snapshot/--restore-mem (vm_suspend.cc)
  if (!token.empty()) {
    auto token_args = TRY(place_token(ctx, token));  // --migrate-token-file (vm_migrate.cc)
    extra.insert(extra.end(), token_args.begin(), token_args.end());
  }
  if (ctx.nic) {
    // The tap belongs to the VM's uid (the one launch_jailed takes: acquiring is idempotent), so
    // that the unprivileged vessel-vmm can attach to it.
    uid_t id = jail_.enabled ? TRY(acquire_jail_id(jail_, ctx.spec.name)) : 0;
    TRY_CTX(create_vm_tap(ctx.nic->tap, id, id, ctx.nic->bridge), "network of {}", ctx.spec.name);
  }
  std::string sock = ctx.dir + "/run/vmm.sock";
  Fd log = TRY_CTX(console_sink(ctx), "the console log");
  Fd null = TRY(Fd::open("/dev/null", O_RDONLY));
  SpawnOptions options;
  options.stdin_fd = null.get();
  options.stdout_fd = log.get();
  options.stderr_fd = log.get();
  options.new_session = true;  // survives vesseld
  auto launched = jail_.enabled ? launch_jailed(ctx, boot, options, extra) : launch_direct(ctx, options, extra);
  if (!launched) {
    cleanup(ctx);
    return Unexpected(std::move(launched).error());
  }
  GuestProcess proc = std::move(*launched);
  auto fail_start = [&](Error e) -> Result<GuestProcess> {
    (void)proc.signal(SIGKILL);
    proc.wait_exit(std::chrono::seconds(5));
    cleanup(ctx);
    return Unexpected(std::move(e));
  };
  // Up to 30 s for the API socket to take connections: it is there in milliseconds, but an ASan
  // build in a nested host under load took over 5 s; the loop ends early when the VMM exits.
  for (int i = 0; i < 3000; ++i) {
    // Connected, not merely there: the socket's file appears at bind(), before listen().
    if (unix_socket::connect(sock)) break;
    if (!proc.alive()) return fail_start(Error(EIO, fmt::format("{} exited before it opened its API socket; see {}", vmm_, ctx.log_path)));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto configure = [&]() -> Result<void> {
    // Jailed, the jailer made the cgroup and entered it before the VMM existed.
    if (!jail_.enabled)
      TRY(cgroup_place(ctx.cgroup, vm_cgroup_limits(ctx.spec), proc.pid));
    if (restoring || receiving) return {};  // the snapshot (the stream) holds the configuration
    auto config = TRY(vmm_config(ctx.spec, boot, ctx.nic, ctx.mounts));
    TRY(call(ctx, "PUT", "/machine-config", vmm::to_json(config.machine)));
    TRY(call(ctx, "PUT", "/boot-source", vmm::to_json(*config.boot_source)));
    for (const auto& drive : config.drives) TRY(call(ctx, "PUT", "/drives/" + drive.drive_id, vmm::to_json(drive)));
    if (ctx.nic) TRY(call(ctx, "PUT", "/network-interfaces/eth0", vm_network_interface(*ctx.nic)));
    if (config.watchdog) TRY(call(ctx, "PUT", "/watchdog", vmm::to_json(*config.watchdog)));
    // A vsock device for vessel-agent: its socket in the run directory, as the VMM sees it.
    std::string run_in = jail_.enabled ? std::string(kJailRunDir) : ctx.dir + "/run";
    TRY(call(ctx, "PUT", "/vsock", vmm::to_json(vmm::VsockDeviceConfig{3, run_in + "/vsock.sock"})));
    if (config.balloon) TRY(call(ctx, "PUT", "/balloon", vmm::to_json(*config.balloon)));  // --balloon
    TRY(call(ctx, "PUT", "/actions", {{"action_type", "InstanceStart"}}));
    return {};
  };
  auto configured = configure();
  if (!configured) return fail_start(std::move(configured).error());
  return proc;
}

Result<void> VmBackend::stop(const InstanceContext& ctx, const GuestProcess& proc, std::chrono::seconds timeout) {
  // Ctrl+Alt+Del first (the default guest's /init stops its command and powers off); a guest
  // that has not stopped by half the timeout is asked through vessel-agent (sync, poweroff), if
  // one answers; SIGKILL at the end.
  if (timeout.count() > 0 && call(ctx, "PUT", "/actions", {{"action_type", "SendCtrlAltDel"}})) {
    auto first = std::chrono::seconds((timeout.count() + 1) / 2);
    if (proc.wait_exit(first)) {
      cleanup(ctx);
      return {};
    }
    if (auto uds = vsock_socket(ctx)) {
      if (auto r = agent::request_shutdown(*uds, std::chrono::seconds(2)); !r)
        log::info("{}: vessel-agent did not take the shutdown: {}", ctx.spec.name, r.error().to_string());
    }
    if (proc.wait_exit(timeout - first)) {
      cleanup(ctx);
      return {};
    }
  }
  (void)proc.signal(SIGKILL);
  cgroup_hurry_killed(ctx.cgroup, proc.pid);
  if (!proc.wait_exit(std::chrono::seconds(10))) return fail(ETIMEDOUT, "vessel-vmm of {} did not die", ctx.spec.name);
  cleanup(ctx);
  return {};
}

Result<void> VmBackend::pause(const InstanceContext& ctx, const GuestProcess&) {
  TRY(call(ctx, "PATCH", "/vm", {{"state", "Paused"}}));
  return {};
}

Result<void> VmBackend::resume(const InstanceContext& ctx, const GuestProcess&) {
  TRY(call(ctx, "PATCH", "/vm", {{"state", "Resumed"}}));
  return {};
}

std::optional<int> VmBackend::jailer_status(const std::string& name, std::chrono::milliseconds wait) {
  std::lock_guard lock(jailers_mutex_);
  auto it = jailers_.find(name);
  if (it == jailers_.end()) return std::nullopt;
  if (!it->second.wait_status) it->second.wait_exit(wait);  // the VMM is gone: its jailer follows at once
  return it->second.wait_status;
}

void VmBackend::cleanup(const InstanceContext& ctx) {
  ::unlink(socket_path(ctx).c_str());
  // The jailer leaves the cgroup when it exits, just after its VMM: reap it first (ours), or
  // wait for the cgroup to empty (a jailer this vesseld adopted the VMM of).
  bool jailed = jailer_status(ctx.spec.name, std::chrono::seconds(2)).has_value() ||
                ::access(jail_dir(jail_, vmm_, ctx.spec.name).c_str(), F_OK) == 0;
  remove_jail(jail_, vmm_, ctx.spec.name);
  release_jail_id(jail_, ctx.spec.name);
  note_oom_kills(ctx);
  cgroup_remove(ctx.cgroup, jailed);
}

std::string vm_console_socket(const std::string& instance_dir) { return vm_run_file(instance_dir, "console.sock"); }

Result<State> VmBackend::probe(const InstanceContext& ctx, const GuestProcess&) {
  auto body = TRY(call(ctx, "GET", "/"));
  auto j = TRY(json::parse(body));
  std::string state = j.is_object() ? j.value("state", "") : "";
  if (state == "Paused") return State::Paused;
  return State::Running;
}

std::string vm_vsock_socket(const std::string& instance_dir) { return vm_run_file(instance_dir, "vsock.sock"); }

namespace {
Error no_agent(const InstanceContext& ctx, Error e) {
  return std::move(e.add_context(fmt::format("exec into VM {}", ctx.spec.name)))
      .with_hint(fmt::format("the guest needs vessel-agent listening on vsock port 1024 (the default guest has "
                             "it); `vessel console {}` reaches its serial console", ctx.spec.name));
}
}  // namespace

Result<ExecResult> VmBackend::exec(const InstanceContext& ctx, const std::vector<std::string>& argv) {
  auto uds = vsock_socket(ctx);
  if (!uds) return Unexpected(no_agent(ctx, std::move(uds).error()));
  agent::ExecRequest req;
  req.argv = argv;
  auto r = agent::exec_collect(*uds, req, {}, 16 << 20, ctx.exec_timeout);
  if (!r) return Unexpected(no_agent(ctx, std::move(r).error()));
  return ExecResult{r->status.code ? *r->status.code : 128 + r->status.signal.value_or(0), r->out + r->err};
}

// Like the runtime's `exec` for a container: a process (vessel-agent-exec) that runs the command
// through the agent and exits with its status, on pipes or on a pty whose master the API relays.
Result<ExecSession> VmBackend::exec_session(const InstanceContext& ctx, const ExecOptions& options) {
  if (options.argv.empty()) return fail(EINVAL, "exec: no command");
  if (agent_exec_.empty()) return fail(ENOENT, "exec into VM {}: vessel-agent-exec not found beside vesseld", ctx.spec.name);
  auto uds = vsock_socket(ctx);
  if (!uds) return Unexpected(no_agent(ctx, std::move(uds).error()));
  // A guest without the agent gets a clear error now rather than a helper that times out.
  if (auto up = agent::request_health(*uds, std::chrono::seconds(5)); !up)
    return Unexpected(no_agent(ctx, std::move(up).error()));
  std::vector<std::string> argv = {agent_exec_, "--uds", *uds};
  if (options.tty) {
    argv.push_back("--tty");
    if (options.rows && options.cols)
      argv.insert(argv.end(), {"--rows", std::to_string(options.rows), "--cols", std::to_string(options.cols)});
  }
  argv.push_back("--");
  argv.insert(argv.end(), options.argv.begin(), options.argv.end());
  ExecSession s;
  SpawnOptions spawn;
  if (options.tty) {
    Fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0) return fail_errno("pseudo terminal");
    Fd slave = TRY(Fd::open(::ptsname(master.get()), O_RDWR | O_NOCTTY));
    if (options.rows && options.cols) {
      winsize ws{options.rows, options.cols, 0, 0};
      (void)::ioctl(master.get(), TIOCSWINSZ, &ws);
    }
    spawn.stdin_fd = spawn.stdout_fd = spawn.stderr_fd = slave.get();
    spawn.new_session = true;  // the helper takes the pty as its controlling terminal (SIGWINCH)
    s.runtime = TRY_CTX(Process::spawn(argv, spawn), "run {}", agent_exec_);
    s.pty = std::move(master);
    return s;
  }
  TRY_CTX(spawn_with_pipes(argv, spawn, s), "run {}", agent_exec_);
  return s;
}

}  // namespace vessel::daemon
