#include "daemon/instances/vm_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "http/http.h"
#include "base/process.h"
#include "daemon/instances/vm_host.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

namespace {

std::string socket_path(const InstanceContext& ctx) { return ctx.dir + "/vmm.sock"; }

Result<std::string> call(const InstanceContext& ctx, const std::string& method, const std::string& path,
                         const json::Json& body = nullptr) {
  http::ClientOptions options;
  options.unix_socket = socket_path(ctx);
  options.timeout = std::chrono::seconds(30);
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

}  // namespace

Result<vmm::VmConfig> vmm_config(const InstanceSpec& spec, const BootSource& boot) {
  vmm::VmConfig c;
  c.machine.vcpu_count = spec.cpus;
  c.machine.mem_size_mib = spec.memory_mib;
  c.boot_source = vmm::BootSource{boot.kernel, std::nullopt, boot.cmdline};
  if (!boot.initramfs.empty()) c.boot_source->initrd_path = boot.initramfs;
  for (size_t i = 0; i < boot.disks.size(); ++i) {
    const DiskSpec& disk = boot.disks[i];
    auto format = vmm::parse_drive_format(disk.format.empty() ? "raw" : disk.format);
    if (!format) return fail(EINVAL, "disk {}: format '{}' is not raw or qcow2", i, disk.format);
    vmm::DriveConfig d{fmt::format("disk{}", i), disk.path, false, disk.read_only, format};
    d.backing_files = disk.backing_files;  // the image store's base under vesseld's own overlay
    c.drives.push_back(std::move(d));
  }
  return c;
}

Result<void> VmBackend::preflight() { return check_vm_host(); }

ExitInfo VmBackend::exit_info(const InstanceContext& ctx, const GuestProcess* proc) {
  // The relay holds LOG.lock until it has read the pipe to its end (vessel-shim --relay).
  if (auto lock = Fd::open(ctx.log_path + ".lock", O_RDONLY)) {
    for (int i = 0; i < 200 && ::flock(lock->get(), LOCK_SH | LOCK_NB) < 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Backend::exit_info(ctx, proc);
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

Result<GuestProcess> VmBackend::start(const InstanceContext& ctx, const BootSource& boot) {
  if (boot.kernel.empty()) return fail(EINVAL, "VM {} has no kernel", ctx.spec.name);
  std::string sock = socket_path(ctx);
  ::unlink(sock.c_str());
  Fd log = TRY_CTX(console_sink(ctx), "the console log");
  Fd null = TRY(Fd::open("/dev/null", O_RDONLY));
  SpawnOptions options;
  options.stdin_fd = null.get();
  options.stdout_fd = log.get();
  options.stderr_fd = log.get();
  options.new_session = true;  // survives vesseld
  // --metrics-file: vessel-vmm writes how the VM ended there (read by exit_info(), also after a
  // vesseld restart); --console-sock: the interactive console (docs/daemon/console.md).
  std::vector<std::string> argv{vmm_, "--api-sock", sock, "--metrics-file", ctx.dir + "/" + kExitFile,
                                "--console-sock", ctx.dir + "/console.sock"};
  auto child = TRY_CTX(Process::spawn(argv, options), "run {}", vmm_);
  auto proc = TRY(GuestProcess::attach(child.pid()));
  child.detach();  // the monitor reaps it through its pidfd; a restarted vesseld adopts it
  auto fail_start = [&](Error e) -> Result<GuestProcess> {
    (void)proc.signal(SIGKILL);
    proc.wait_exit(std::chrono::seconds(5));
    cleanup(ctx);
    return Unexpected(std::move(e));
  };
  for (int i = 0; i < 500; ++i) {  // up to 5 s for the API socket
    struct stat st;
    if (::stat(sock.c_str(), &st) == 0) break;
    if (!proc.alive()) return fail_start(Error(EIO, fmt::format("{} exited before it opened its API socket; see {}", vmm_, ctx.log_path)));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto configure = [&]() -> Result<void> {
    TRY(cgroup_place(ctx.cgroup, {ctx.spec.cpus, ctx.spec.cpu_weight, ctx.spec.memory_mib, ctx.spec.memory_reservation_mib}, proc.pid));
    auto config = TRY(vmm_config(ctx.spec, boot));
    TRY(call(ctx, "PUT", "/machine-config", vmm::to_json(config.machine)));
    TRY(call(ctx, "PUT", "/boot-source", vmm::to_json(*config.boot_source)));
    for (const auto& drive : config.drives) TRY(call(ctx, "PUT", "/drives/" + drive.drive_id, vmm::to_json(drive)));
    TRY(call(ctx, "PUT", "/actions", {{"action_type", "InstanceStart"}}));
    return {};
  };
  auto configured = configure();
  if (!configured) return fail_start(std::move(configured).error());
  return proc;
}

Result<void> VmBackend::stop(const InstanceContext& ctx, const GuestProcess& proc, std::chrono::seconds timeout) {
  if (timeout.count() > 0 && call(ctx, "PUT", "/actions", {{"action_type", "SendCtrlAltDel"}})) {
    if (proc.wait_exit(timeout)) {
      cleanup(ctx);
      return {};
    }
  }
  (void)proc.signal(SIGKILL);
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

void VmBackend::cleanup(const InstanceContext& ctx) {
  ::unlink(socket_path(ctx).c_str());
  cgroup_remove(ctx.cgroup);
}

Result<State> VmBackend::probe(const InstanceContext& ctx, const GuestProcess&) {
  auto body = TRY(call(ctx, "GET", "/"));
  auto j = TRY(json::parse(body));
  std::string state = j.is_object() ? j.value("state", "") : "";
  if (state == "Paused") return State::Paused;
  return State::Running;
}

Result<ExecResult> VmBackend::exec(const InstanceContext& ctx, const std::vector<std::string>&) {
  return Unexpected(Error(ENOTSUP, fmt::format("exec into VM {} is not supported yet", ctx.spec.name))
                        .with_hint("use `vessel logs` for the serial console"));
}

}  // namespace vessel::daemon
