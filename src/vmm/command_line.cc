#include "vmm/command_line.h"

#include <CLI/CLI.hpp>

#include "base/version.h"
#include "base/fd.h"
#include "base/log.h"

namespace vessel::vmm {
namespace {

constexpr const char* kDescription = R"(vessel-vmm - run one micro-VM on KVM

vessel-vmm boots a Linux kernel (ELF vmlinux with a PVH note, or a bzImage) or a
test-kit guest, with an 8250 serial console on this process's stdout and
virtio-mmio block/entropy devices described in ACPI. It speaks Firecracker's
configuration file and API shapes.

Ways to start:
  vessel-vmm --config-file vm.json        boot at once from a Firecracker-style file
  vessel-vmm --api-sock /run/vm.sock      wait for PUT /boot-source ... PUT /actions
  vessel-vmm --kernel K [--initrd I] [--cmdline ARGS] [--vcpus N] [--mem-mib M]
  vessel-vmm --restore-snapshot STATE --restore-mem MEM [--restore-paused]
                                          go on from a snapshot (PUT /snapshot/create)
  vessel-vmm --migrate-from unix:/run/in.sock
                                          receive a VM that another vessel-vmm sends
                                          (PUT /migration/send) and run it
  vessel-vmm --migrate-from tcp:10.0.0.2:4444 --migrate-token-file T
                                          the same from another host, from a sender
                                          that knows the token in file T
  vessel-vmm --apply-diff DIFF_MEM --to BASE_MEM
                                          merge a Diff snapshot's memory into its base
  vessel-vmm --snapshot-info STATE        print what a state file holds (JSON)

Sandbox: every thread loads a seccomp allowlist of its own before the guest's
first instruction (docs/vmm/sandbox.md); a forbidden system call kills the
process (SIGSYS). --seccomp-level 0 turns the filters off. vessel-jailer adds a
chroot, namespaces, a cgroup and an unprivileged user around vessel-vmm.

Exit status:
  0    the guest powered off (ACPI S5) or rebooted (i8042/ACPI reset, triple fault;
       or the VM was migrated to another vessel-vmm;
       --reboot-exit-code changes the status for reboots; with "vessel":
       {"on_reboot": "restart"} in the configuration a reboot boots the VM again)
  N    a test guest wrote N to the debug exit port 0xf4
  1    bad command line or configuration; the VM could not be built
  2    the VMM could not continue the VM (KVM error, instruction it cannot emulate)
  3    the guest kernel panicked (the panic line is printed)
  SIGSYS  a thread made a system call its seccomp filter does not allow (the
       kernel kills the process; dmesg may show the call's number)
  143  SIGTERM (130 SIGINT): vessel-vmm typed Ctrl+Alt+Del on the guest's keyboard and
       the guest did not power off or reboot within --shutdown-timeout (a guest that
       does ends the process with its own status)

See docs/vmm/README.md, docs/vmm/api.md, docs/vmm/boot.md and docs/vmm/pvm.md.)";

void add_options(CLI::App& app, CommandLine& o) {
  app.add_option("--config-file", o.config_file, "Firecracker-style JSON configuration; boots immediately")->check(CLI::ExistingFile);
  app.add_option("--restore-snapshot", o.restore_snapshot,
                 "start from this snapshot state file (as PUT /snapshot/load; needs --restore-mem)")
      ->check(CLI::ExistingFile);
  app.add_option("--restore-mem", o.restore_mem, "the snapshot's memory file, mapped copy-on-write")
      ->check(CLI::ExistingFile);
  app.add_flag("--restore-paused", o.restore_paused, "leave the restored VM paused (resume with PATCH /vm)");
  app.add_option("--migrate-from", o.migrate_from,
                 "listen on this URL (unix:PATH or tcp:ADDRESS:PORT) for one live migration, then run the VM it "
                 "brings (as PUT /migration/receive; docs/vmm/migration.md)");
  app.add_option("--migrate-token-file", o.migrate_token_file,
                 "with --migrate-from: a file holding 64 hex digits, the token a sender must send before "
                 "anything else; connections without it are closed and the wait goes on")
      ->check(CLI::ExistingFile);
  app.add_option("--apply-diff", o.apply_diff,
                 "copy the pages of this Diff snapshot's memory file over the base memory file given with --to, "
                 "then exit (the base then loads with the Diff's state file)")
      ->check(CLI::ExistingFile);
  app.add_option("--to", o.apply_to, "the base memory file --apply-diff writes into")->check(CLI::ExistingFile);
  app.add_option("--snapshot-info", o.snapshot_info,
                 "print a summary of this snapshot state file as JSON (machine, each vCPU's registers, run "
                 "state, pending events, LAPIC timer and clocks, devices, configuration), then exit")
      ->check(CLI::ExistingFile);
  app.add_option("--api-sock", o.api_sock, "serve the control API on this Unix socket");
  app.add_option("--kernel", o.kernel, "kernel to boot (vmlinux with PVH note, bzImage, or flat test binary)")->check(CLI::ExistingFile);
  app.add_option("--initrd", o.initrd, "initial ramdisk (with --kernel)")->check(CLI::ExistingFile);
  app.add_option("--cmdline", o.cmdline, "kernel command line (with --kernel)")->capture_default_str();
  app.add_option("--vcpus", o.vcpus, "number of vCPUs, 1..32 (with --kernel)")->check(CLI::Range(1, 32))->capture_default_str();
  app.add_option("--mem-mib", o.mem_mib, "guest memory in MiB, 16..65536 (with --kernel)")->check(CLI::Range(16, 65536))->capture_default_str();
  app.add_option("--shutdown-timeout", o.shutdown_timeout,
                 "after SIGTERM/SIGINT/SIGHUP, seconds the guest has to act on Ctrl+Alt+Del before a forced stop")
      ->capture_default_str();
  app.add_option("--reboot-exit-code", o.reboot_exit_code,
                 "exit status when the guest reboots (i8042/ACPI reset, triple fault), 0..255")
      ->check(CLI::Range(0, 255))
      ->capture_default_str();
  app.add_option("--guest-profile", o.guest_profile,
                 "sample the vCPUs' instruction pointers every millisecond and write 'samples rip vcpu' "
                 "lines here when the VM ends (scripts/guest-profile-report.py maps them to kernel symbols)");
  app.add_option("--metrics-file", o.metrics_file, "write the VM's counters (JSON) here when it ends");
  app.add_option("--console-sock", o.console_sock,
                 "also serve the serial console on this Unix socket: clients get the guest's output and "
                 "their bytes go to the guest's UART (vessel console, docs/daemon/console.md)");
  app.add_option("--virtio-poll-us", o.virtio_poll_us,
                 "after serving requests, microseconds a virtio-blk device thread keeps polling its rings "
                 "before it sleeps (0: never; docs/vmm/virtio.md)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--seccomp-level", o.seccomp_level,
                 "2: every thread loads its own seccomp allowlist before the guest runs, anything else "
                 "kills the process (the default); 0: no filters (docs/vmm/sandbox.md)")
      ->check(CLI::IsMember({0, 2}))
      ->capture_default_str();
  app.add_flag_callback("--no-seccomp", [&o] { o.seccomp_level = 0; }, "the same as --seccomp-level 0");
  app.add_option("--log-level", o.log_level, "debug, info, warn, error or off")->capture_default_str();
  app.add_flag("--log-json", o.log_json, "log as JSON lines");
}

Result<VmConfig> read_config_file(const std::string& path) {
  auto text = TRY(read_file(path));
  auto parsed = parse_vm_config(text);
  if (!parsed) return Unexpected(std::move(parsed.error()).add_context(fmt::format("config file {}", path)));
  return *parsed;
}

}  // namespace

std::optional<int> parse_command_line(int argc, char** argv, CommandLine& out) {
  CLI::App app{kDescription, "vessel-vmm"};
  app.set_version_flag("--version", std::string("vessel-vmm version ") + kVersion);
  add_options(app, out);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int r = app.exit(e);  // prints help or the error
    return r == 0 ? 0 : 1;
  }
  return std::nullopt;
}

Result<StartPlan> plan_start(const CommandLine& cl) {
  log::Level level;
  if (!log::parse_level(cl.log_level, &level)) return fail(EINVAL, "--log-level: unknown level '{}'", cl.log_level);
  log::set_level(level);
  if (cl.log_json) log::set_format(log::Format::Json);
  if (cl.config_file.empty() && cl.api_sock.empty() && cl.kernel.empty() && cl.restore_snapshot.empty() &&
      cl.migrate_from.empty())
    return Unexpected(Error(EINVAL, "nothing to run")
                          .with_hint("give --config-file, --api-sock, --kernel, --restore-snapshot or --migrate-from (see --help)"));
  if (!cl.migrate_from.empty() && (!cl.config_file.empty() || !cl.kernel.empty() || !cl.restore_snapshot.empty()))
    return fail(EINVAL, "--migrate-from excludes --config-file, --kernel and --restore-snapshot (the VM comes with its configuration)");
  if (!cl.migrate_token_file.empty() && cl.migrate_from.empty())
    return fail(EINVAL, "--migrate-token-file goes with --migrate-from");
  if (cl.restore_snapshot.empty() != cl.restore_mem.empty())
    return fail(EINVAL, "--restore-snapshot and --restore-mem go together");
  if (!cl.restore_snapshot.empty() && (!cl.config_file.empty() || !cl.kernel.empty()))
    return fail(EINVAL, "--restore-snapshot excludes --config-file and --kernel (the snapshot holds the configuration)");
  if (!cl.config_file.empty() && !cl.kernel.empty()) return fail(EINVAL, "--config-file and --kernel exclude each other");
  if (!cl.guest_profile.empty() && cl.seccomp_level != 0)
    return Unexpected(Error(EINVAL, "--guest-profile writes its file from the vCPUs' profiler thread, which the seccomp "
                                    "filters do not allow")
                          .with_hint("profile with --seccomp-level 0"));

  StartPlan plan;
  if (!cl.config_file.empty()) {
    plan.config = TRY(read_config_file(cl.config_file));
    plan.boot_now = true;
  } else if (!cl.kernel.empty()) {
    plan.config.boot_source = BootSource{cl.kernel, cl.initrd.empty() ? std::nullopt : std::optional(cl.initrd), cl.cmdline};
    plan.config.machine.vcpu_count = cl.vcpus;
    plan.config.machine.mem_size_mib = cl.mem_mib;
    plan.boot_now = true;
  } else if (!cl.restore_snapshot.empty()) {
    plan.restore = true;
  } else if (!cl.migrate_from.empty()) {
    plan.migrate = true;
    if (!cl.migrate_token_file.empty()) plan.migrate_token = TRY(migration::read_token_file(cl.migrate_token_file));
  }
  return plan;
}

}  // namespace vessel::vmm
