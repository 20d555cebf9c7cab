// The VMM thread (docs/design.md rule 4; docs/vmm/README.md, "Threads and lifecycle"): the one thread
// that owns the VM configuration and the Machine. Other threads reach them only through its
// mailboxes: the API server sends typed actions (api/vmm_action.h), the console socket and the
// stdin reader send guest input, the signal thread posts stop signals. run() answers them, and
// watches the Machine's events, until the VM has ended.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "vmm/api/vm_config.h"
#include "vmm/api/vmm_action.h"
#include "vmm/migration/token.h"
#include "vmm/mailbox.h"
#include "vmm/machine.h"

namespace vessel::vmm {

using ActionMailbox = Mailbox<VmmAction, VmmReply>;
using ConsoleMailbox = Mailbox<std::string, size_t>;  // guest input; the reply: bytes the UART took
using SignalMailbox = Mailbox<int>;                   // SIGTERM, SIGINT or SIGHUP

struct VmmOptions {
  MachineOptions machine;
  // After a stop signal, how long the guest has to act on Ctrl+Alt+Del before a forced stop.
  std::chrono::seconds shutdown_timeout{10};
  // Run on the VMM thread once the VM's threads have started, before the guest's first
  // instruction: on_started (main wires the console to it), then before_guest_runs (main loads the
  // VMM thread's seccomp filter there). Both only for the first start, not after a restart.
  std::function<void(Machine&)> on_started;
  std::function<void(Machine&)> before_guest_runs;
};

class Vmm {
 public:
  static Result<std::unique_ptr<Vmm>> create(VmConfig config, VmmOptions options);

  ActionMailbox& actions() { return *actions_; }
  ConsoleMailbox& console() { return *console_; }
  SignalMailbox& signals() { return *signals_; }

  // Everything below runs on the VMM thread.
  VmmReply handle(const VmmAction& action);
  // Starts the VM from the current configuration (InstanceStart; also --config-file, --kernel).
  Result<void> start_instance();
  // Starts the VM from a snapshot instead (PUT /snapshot/load, --restore-snapshot): only in a
  // process that has no VM and no boot source yet. Paused unless `resume`.
  // With `uffd`, `mem_path` is a page-fault handler's socket (mem_backend Uffd, docs/vmm/uffd.md).
  Result<void> load_snapshot(const std::string& state_path, const std::string& mem_path, bool resume,
                             bool enable_diff_snapshots = false, bool uffd = false);
  // Receives a live migration on `url` and runs the VM it brings (PUT /migration/receive,
  // --migrate-from; docs/vmm/migration.md): only in a fresh process, as load_snapshot. Returns what
  // was received and how long it took.
  Result<json::Json> receive_migration(const std::string& url, const std::optional<migration::Token>& token = std::nullopt);
  // The last migration's figures (sent or received), null when none: in the metrics.
  const json::Json& migration_report() const { return migration_report_; }

  struct Ended {
    VmEvent event;
    bool started;  // false: a stop signal came before the VM was started (event.code: the signal)
  };
  // Serves the mailboxes and the Machine's events until the VM has ended.
  Ended run();
  // After run(): keeps answering (the final state) until every mailbox is closed.
  void serve_until_closed();
  Machine* machine() { return machine_.get(); }

 private:
  Vmm(VmConfig config, VmmOptions options) : config_(std::move(config)), options_(std::move(options)) {}
  void serve_mailboxes();
  void on_signal(int sig);
  int poll_timeout_ms() const;

  VmmReply on(const action::GetInstanceInfo&);
  VmmReply on(const action::GetMachineConfig&);
  VmmReply on(const action::SetMachineConfig&);
  VmmReply on(const action::SetBootSource&);
  VmmReply on(const action::PutDrive&);
  VmmReply on(const action::EnableEntropy&);
  VmmReply on(const action::InstanceStart&);
  VmmReply on(const action::SendCtrlAltDel&);
  VmmReply on(const action::FlushMetrics&);
  VmmReply on(const action::SetVmState&);
  VmmReply on(const action::GetVmConfig&);
  VmmReply on(const action::GetMetrics&);
  VmmReply on(const action::PutVsock&);
  VmmReply on(const action::PatchDrive&);
  VmmReply on(const action::PutNetworkInterface&);
  VmmReply on(const action::PatchNetworkInterface&);
  VmmReply on(const action::CreateSnapshot&);
  VmmReply on(const action::LoadSnapshot&);
  VmmReply on(const action::SendMigration&);     // vmm_migration.cc
  VmmReply on(const action::ReceiveMigration&);
  VmmReply on(const action::PutBalloon&);        // vmm_balloon.cc
  VmmReply on(const action::PatchBalloon&);
  VmmReply on(const action::GetBalloon&);
  VmmReply on(const action::PatchBalloonStats&);
  VmmReply on(const action::GetBalloonStats&);
  VmmReply on(const action::PutWatchdog&);
  VmmReply on(const action::GetWatchdog&);
  // Runs a machine built from a snapshot or a migration (paused unless `resume`).
  Result<void> adopt(std::unique_ptr<Machine> machine, bool resume);
  Result<void> before_start() const;

  VmConfig config_;
  VmmOptions options_;
  std::unique_ptr<ActionMailbox> actions_;
  std::unique_ptr<ConsoleMailbox> console_;
  std::unique_ptr<SignalMailbox> signals_;
  std::unique_ptr<Machine> machine_;
  std::optional<int> stop_signal_;  // the signal that is stopping the VM
  std::optional<std::chrono::steady_clock::time_point> force_stop_at_;
  json::Json migration_report_;
  Fd pagemap_;  // /proc/self/pagemap, opened before the VMM thread is confined (migration)
};

}  // namespace vessel::vmm
