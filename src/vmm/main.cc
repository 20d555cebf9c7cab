// vessel-vmm: one process per VM on /dev/kvm (docs/vmm/README.md). This thread becomes the VMM thread
// (vmm.h): it owns the VM; the API, console, terminal and signal threads send it messages.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "base/cli.h"
#include "base/fd.h"
#include "base/log.h"
#include "vmm/command_line.h"
#include "vmm/host_io.h"
#include "vmm/sandbox/seccomp.h"
#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/state_file.h"
#include "vmm/snapshot/state_info.h"
#include "vmm/vmm.h"

using namespace vessel;
using namespace vessel::vmm;

namespace {

int failed(const Error& error) {
  cli::print_error("vessel-vmm", error);
  return 1;
}

// --apply-diff DIFF --to BASE (docs/vmm/snapshot.md, "Diff snapshots").
Result<void> apply_diff_snapshot(const std::string& diff, const std::string& base) {
  auto d = TRY_CTX(Fd::open(diff, O_RDONLY | O_CLOEXEC), "--apply-diff {}", diff);
  auto b = TRY_CTX(Fd::open(base, O_WRONLY | O_CLOEXEC), "--to {}", base);
  return snapshot::apply_memory_diff(b.get(), d.get());
}

// --snapshot-info STATE (docs/vmm/snapshot.md, "Looking inside one").
Result<void> print_snapshot_info(const std::string& path) {
  auto bytes = TRY(snapshot::read_state_file(path));
  auto state = TRY_CTX(snapshot::decode(bytes), "{}", path);
  std::string text = snapshot::describe(state).dump(2) + "\n";
  return write_all(STDOUT_FILENO, text.data(), text.size());
}

// The exit status, the --metrics-file (opened at the start: the VMM thread's filter opens no
// files) and the message for how the VM ended.
int report_end(const CommandLine& cl, int metrics_fd, const VmEvent& event, Machine& machine, const json::Json& migration) {
  int code = event.kind == VmEvent::Kind::Reboot ? cl.reboot_exit_code : Machine::exit_code(event);
  if (metrics_fd >= 0) {
    json::Json j = machine.metrics();
    if (!migration.is_null()) j["migration"] = migration;
    j["exit"] = {{"kind", to_string(event.kind)}, {"code", code}, {"reason", event.reason}};
    std::string text = j.dump(2) + "\n";
    auto w = pwrite_all(metrics_fd, text.data(), text.size(), 0);
    if (w && ::ftruncate(metrics_fd, static_cast<off_t>(text.size())) != 0) w = fail_errno("truncate");
    if (!w) cli::print_error("vessel-vmm", std::move(w.error()).add_context(cl.metrics_file));
  }
  if (event.kind == VmEvent::Kind::Panic)
    cli::print_error("vessel-vmm", Error(0, fmt::format("guest kernel panic: {}", event.reason)));
  else if (event.kind == VmEvent::Kind::Error)
    cli::print_error("vessel-vmm", Error(0, event.reason));
  else
    log::info("VM ended: {} ({}), exit status {}", to_string(event.kind), event.reason, code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("vessel-vmm");
  CommandLine cl;
  if (auto status = parse_command_line(argc, argv, cl)) return *status;
  if (!cl.apply_diff.empty() || !cl.apply_to.empty()) {
    if (cl.apply_diff.empty() || cl.apply_to.empty()) return failed(Error(EINVAL, "--apply-diff and --to go together"));
    if (auto merged = apply_diff_snapshot(cl.apply_diff, cl.apply_to); !merged) return failed(merged.error());
    return 0;
  }
  if (!cl.snapshot_info.empty()) {
    if (auto printed = print_snapshot_info(cl.snapshot_info); !printed) return failed(printed.error());
    return 0;
  }
  auto plan = plan_start(cl);
  if (!plan) return failed(plan.error());
  auto unlink_api_sock = [&] { if (!cl.api_sock.empty()) ::unlink(cl.api_sock.c_str()); };
  Fd metrics;
  if (!cl.metrics_file.empty()) {
    auto opened = Fd::open(cl.metrics_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!opened) return failed(std::move(opened.error()).add_context("--metrics-file"));
    metrics = std::move(*opened);
  }
  // Before any other thread starts: every thread after this one loads its own filter.
  if (cl.seccomp_level != 0) {
    if (auto on = sandbox::enable(plan->config.on_reboot == OnReboot::Restart); !on)
      return failed(std::move(on.error()).add_context("--seccomp-level 2"));
  }

  std::unique_ptr<Vmm> vmm;
  std::unique_ptr<ConsoleSocket> console;
  Terminal terminal;
  VmmOptions options;
  options.machine.console_fd = STDOUT_FILENO;
  options.machine.guest_profile = cl.guest_profile;
  options.machine.virtio_poll_us = cl.virtio_poll_us;
  options.shutdown_timeout = std::chrono::seconds(cl.shutdown_timeout);
  options.on_started = [&](Machine& machine) {
    if (!cl.console_sock.empty()) {
      auto listening = serve_console(cl.console_sock, vmm->console(), machine.serial());
      if (listening) console = std::move(*listening);
      else cli::print_error("vessel-vmm", std::move(listening.error()).add_context("--console-sock"));
    }
    terminal.attach(vmm->console());
  };
  // The VM's own configuration decides (a snapshot's, or one given through the API, is known
  // only now): with on_reboot: restart the VMM thread may build the VM again.
  options.before_guest_runs = [](Machine& machine) {
    sandbox::enter_vmm(machine.config().on_reboot == OnReboot::Restart);
  };
  auto created = Vmm::create(plan->config, std::move(options));
  if (!created) return failed(created.error());
  vmm = std::move(*created);

  start_signal_thread(vmm->signals());
  std::unique_ptr<http::Server> server;
  if (!cl.api_sock.empty()) {
    auto s = serve_api(cl.api_sock, vmm->actions());
    if (!s) return failed(std::move(s.error()).add_context("listen on the API socket"));
    server = std::move(*s);
  }
  if (plan->restore) {
    if (auto loaded = vmm->load_snapshot(cl.restore_snapshot, cl.restore_mem, !cl.restore_paused); !loaded) {
      failed(loaded.error());
      unlink_api_sock();
      return 1;
    }
  }
  if (plan->migrate) {
    if (auto received = vmm->receive_migration(cl.migrate_from, plan->migrate_token); !received) {
      failed(received.error());
      unlink_api_sock();
      return 1;
    }
  }
  if (plan->boot_now) {
    if (auto started = vmm->start_instance(); !started) {
      failed(started.error());
      unlink_api_sock();
      return 1;
    }
  }

  Vmm::Ended end = vmm->run();
  if (!end.started) {  // a stop signal before the VM started: nothing to shut down
    unlink_api_sock();
    _exit(128 + end.event.code);
  }
  int code = report_end(cl, metrics.get(), end.event, *vmm->machine(), vmm->migration_report());
  // A guest that ends within microseconds ends before InstanceStart has been answered: let the
  // server finish its answers (this thread keeps serving the API meanwhile).
  std::thread finisher([&] {
    if (server) server->drain(std::chrono::seconds(2));
    vmm->actions().close();
    server.reset();
    unlink_api_sock();
    vmm->console().close();
  });
  vmm->serve_until_closed();
  finisher.join();
  console.reset();  // hands the guest's last output to the console clients, then removes the socket
  std::fflush(stdout);
  _exit(code);  // detached helper threads (stdin, signals) may be blocked in syscalls
}
