// vessel-vmm: one process per VM on /dev/kvm (docs/vmm.md).
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <thread>

#include "base/cli.h"
#include "base/fd.h"
#include "http/http.h"
#include "base/log.h"
#include "vmm/api/api_server.h"
#include "vmm/api/vm_config.h"
#include "vmm/devices/legacy/console_socket.h"
#include "vmm/machine.h"

using namespace vessel;
using namespace vessel::vmm;

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

Exit status:
  0    the guest powered off (ACPI S5) or rebooted (i8042/ACPI reset, triple fault;
       --reboot-exit-code changes the status for reboots; with "vessel":
       {"on_reboot": "restart"} in the configuration a reboot boots the VM again)
  N    a test guest wrote N to the debug exit port 0xf4
  1    bad command line or configuration; the VM could not be built
  2    the VMM could not continue the VM (KVM error, instruction it cannot emulate)
  3    the guest kernel panicked (the panic line is printed)
  143  SIGTERM (130 SIGINT): vessel-vmm typed Ctrl+Alt+Del on the guest's keyboard and
       the guest did not power off or reboot within --shutdown-timeout (a guest that
       does ends the process with its own status)

See docs/vmm.md, docs/vmm-api.md, docs/vmm-boot.md and docs/vmm-pvm.md.)";

struct TerminalGuard {
  bool active = false;
  termios saved{};
  void make_raw() {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) != 0) return;
    termios raw = saved;
    raw.c_lflag &= ~(ICANON | ECHO | ISIG);
    raw.c_iflag &= ~(ICRNL | IXON);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) active = true;
  }
  ~TerminalGuard() {
    if (active) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  }
};

}  // namespace

int main(int argc, char** argv) {
  log::set_program("vessel-vmm");
  CLI::App app{kDescription, "vessel-vmm"};
  std::string config_file, api_sock, kernel, initrd, cmdline = "console=ttyS0 reboot=k panic=-1", log_level = "warn";
  std::string metrics_file, guest_profile, console_sock;
  uint32_t vcpus = 1;
  uint64_t mem_mib = 128;
  unsigned shutdown_timeout = 10;
  int reboot_exit_code = 0;
  bool log_json = false;
  app.add_option("--config-file", config_file, "Firecracker-style JSON configuration; boots immediately")->check(CLI::ExistingFile);
  app.add_option("--api-sock", api_sock, "serve the control API on this Unix socket");
  app.add_option("--kernel", kernel, "kernel to boot (vmlinux with PVH note, bzImage, or flat test binary)")->check(CLI::ExistingFile);
  app.add_option("--initrd", initrd, "initial ramdisk (with --kernel)")->check(CLI::ExistingFile);
  app.add_option("--cmdline", cmdline, "kernel command line (with --kernel)")->capture_default_str();
  app.add_option("--vcpus", vcpus, "number of vCPUs, 1..32 (with --kernel)")->check(CLI::Range(1, 32))->capture_default_str();
  app.add_option("--mem-mib", mem_mib, "guest memory in MiB, 16..65536 (with --kernel)")->check(CLI::Range(16, 65536))->capture_default_str();
  app.add_option("--shutdown-timeout", shutdown_timeout,
                 "after SIGTERM/SIGINT/SIGHUP, seconds the guest has to act on Ctrl+Alt+Del before a forced stop")
      ->capture_default_str();
  app.add_option("--reboot-exit-code", reboot_exit_code,
                 "exit status when the guest reboots (i8042/ACPI reset, triple fault), 0..255")
      ->check(CLI::Range(0, 255))
      ->capture_default_str();
  app.add_option("--guest-profile", guest_profile,
                 "sample the vCPUs' instruction pointers every millisecond and write 'samples rip vcpu' "
                 "lines here when the VM ends (scripts/guest-profile-report.py maps them to kernel symbols)");
  app.add_option("--metrics-file", metrics_file, "write the VM's counters (JSON) here when it ends");
  app.add_option("--console-sock", console_sock,
                 "also serve the serial console on this Unix socket: clients get the guest's output and "
                 "their bytes go to the guest's UART (vessel console, docs/console.md)");
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")->capture_default_str();
  app.add_flag("--log-json", log_json, "log as JSON lines");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int r = app.exit(e);  // prints help or the error
    return r == 0 ? 0 : 1;
  }

  log::Level level;
  if (!log::parse_level(log_level, &level)) {
    cli::print_error("vessel-vmm", Error(EINVAL, fmt::format("--log-level: unknown level '{}'", log_level)));
    return 1;
  }
  log::set_level(level);
  if (log_json) log::set_format(log::Format::Json);
  if (config_file.empty() && api_sock.empty() && kernel.empty()) {
    cli::print_error("vessel-vmm", Error(EINVAL, "nothing to run").with_hint("give --config-file, --api-sock or --kernel (see --help)"));
    return 1;
  }
  if (!config_file.empty() && !kernel.empty()) {
    cli::print_error("vessel-vmm", Error(EINVAL, "--config-file and --kernel exclude each other"));
    return 1;
  }

  VmConfig config;
  bool boot_now = false;
  if (!config_file.empty()) {
    auto text = read_file(config_file);
    if (!text) {
      cli::print_error("vessel-vmm", text.error());
      return 1;
    }
    auto parsed = parse_vm_config(*text);
    if (!parsed) {
      cli::print_error("vessel-vmm", std::move(parsed.error()).add_context(fmt::format("config file {}", config_file)));
      return 1;
    }
    config = *parsed;
    boot_now = true;
  } else if (!kernel.empty()) {
    config.boot_source = BootSource{kernel, initrd.empty() ? std::nullopt : std::optional(initrd), cmdline};
    config.machine.vcpu_count = vcpus;
    config.machine.mem_size_mib = mem_mib;
    boot_now = true;
  }

  // Signals go to one thread; every other thread inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  MachineOptions machine_options;
  machine_options.console_fd = STDOUT_FILENO;
  machine_options.guest_profile = guest_profile;
  ApiController controller(config, machine_options);
  std::unique_ptr<http::Server> server;
  if (!api_sock.empty()) {
    http::ServerOptions opts;
    opts.max_body_bytes = 64 << 10;
    opts.too_large = [](size_t limit) { return fault(413, fmt::format("request body larger than {} bytes", limit)); };
    auto s = http::Server::listen_unix(api_sock, 0600, [&](const http::Request& r) { return controller.handle(r); }, opts);
    if (!s) {
      cli::print_error("vessel-vmm", std::move(s.error()).add_context("listen on the API socket"));
      return 1;
    }
    server = std::move(*s);
  }
  if (boot_now) {
    auto started = controller.start_instance();
    if (!started) {
      cli::print_error("vessel-vmm", started.error());
      if (!api_sock.empty()) ::unlink(api_sock.c_str());
      return 1;
    }
  }

  std::atomic<Machine*> running{nullptr};
  controller.on_ctrl_alt_del = [&]() -> Result<void> {
    Machine* m = controller.machine();
    if (m == nullptr) return fail(EINVAL, "SendCtrlAltDel: the VM is not running");
    return m->send_ctrl_alt_del();
  };
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    Machine* m = running.load();
    if (m == nullptr) {  // not started: nothing to shut down
      if (!api_sock.empty()) ::unlink(api_sock.c_str());
      _exit(128 + sig);
    }
    if (sig == 0) return;  // woken up at exit
    log::info("signal {}: stopping the VM (forced after {} s)", sig, shutdown_timeout);
    m->begin_shutdown();  // a reboot now ends the VM, even with on_reboot: restart
    if (auto sent = controller.on_ctrl_alt_del(); !sent)
      log::warn("signal {}: Ctrl+Alt+Del not delivered: {}", sig, sent.error().to_string());
    std::this_thread::sleep_for(std::chrono::seconds(shutdown_timeout));
    m->post_event({VmEvent::Kind::Terminated, sig, fmt::format("stopped by signal {}", sig)});
  });
  signal_thread.detach();

  TerminalGuard terminal;
  Machine* machine = controller.wait_started();
  running = machine;
  std::unique_ptr<ConsoleSocket> console;
  if (!console_sock.empty()) {
    auto listening = ConsoleSocket::listen(console_sock, [machine](std::string_view b) { return machine->serial().enqueue_input(b); });
    if (listening) {
      console = std::move(*listening);
      machine->serial().set_output_tap([c = console.get()](std::string_view b) { c->output(b); });
    } else {
      cli::print_error("vessel-vmm", std::move(listening.error()).add_context("--console-sock"));
    }
  }
  if (isatty(STDIN_FILENO)) {
    terminal.make_raw();
    std::thread([machine] {
      char buf[256];
      for (;;) {
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0) return;
        machine->serial().enqueue_input(std::string_view(buf, static_cast<size_t>(n)));
      }
    }).detach();
  }
  VmEvent event = machine->wait();
  int code = event.kind == VmEvent::Kind::Reboot ? reboot_exit_code : Machine::exit_code(event);
  if (!metrics_file.empty()) {
    json::Json j = machine->metrics();
    j["exit"] = {{"kind", to_string(event.kind)}, {"code", code}, {"reason", event.reason}};
    if (auto w = write_file(metrics_file, j.dump(2) + "\n"); !w) cli::print_error("vessel-vmm", w.error());
  }
  switch (event.kind) {
    case VmEvent::Kind::Panic:
      cli::print_error("vessel-vmm", Error(0, fmt::format("guest kernel panic: {}", event.reason)));
      break;
    case VmEvent::Kind::Error:
      cli::print_error("vessel-vmm", Error(0, event.reason));
      break;
    default:
      log::info("VM ended: {} ({}), exit status {}", to_string(event.kind), event.reason, code);
      break;
  }
  // A guest that ends within microseconds ends before InstanceStart has been answered.
  if (server) server->drain(std::chrono::seconds(2));
  server.reset();
  if (!api_sock.empty()) ::unlink(api_sock.c_str());
  console.reset();  // hands the guest's last output to the console clients, then removes the socket
  std::fflush(stdout);
  _exit(code);  // detached helper threads (stdin, signals) may be blocked in syscalls
}
