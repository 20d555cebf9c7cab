#include "vmm/machine.h"

#include <sys/eventfd.h>

#include "base/log.h"
#include "vmm/arch/x86_64/acpi.h"
#include "vmm/arch/x86_64/boot_state.h"
#include "vmm/arch/x86_64/cpuid.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/loader.h"
#include "vmm/devices/legacy/i8042.h"
#include "vmm/devices/legacy/power_ports.h"
#include "vmm/mailbox.h"
#ifdef VESSEL_HAVE_VIRTIO
#include "block/image.h"
#include "vmm/devices/virtio/virtio_devices.h"
#endif

namespace vessel::vmm {
namespace {

// An edge-triggered interrupt: an eventfd bound to a GSI of the in-kernel IOAPIC (KVM_IRQFD).
class IrqfdLine : public InterruptLine {
 public:
  explicit IrqfdLine(EventFd fd) : fd_(std::move(fd)) {}
  Result<void> trigger() override { return fd_.signal(1); }
  int fd() const { return fd_.fd(); }

 private:
  EventFd fd_;
};

Result<std::shared_ptr<IrqfdLine>> make_irq_line(kvm::Vm& vm, uint32_t gsi) {
  auto fd = TRY(EventFd::create(0, EFD_NONBLOCK));
  auto line = std::make_shared<IrqfdLine>(std::move(fd));
  TRY(vm.irqfd(line->fd(), gsi));
  return line;
}

}  // namespace

// COM1's interrupt line outlives each VM incarnation (on_reboot: restart builds a new KVM VM),
// because the Serial device (and the console plumbing around it) stays: it forwards to the
// current VM's irqfd.
class Machine::RelayLine : public InterruptLine {
 public:
  Result<void> trigger() override {
    std::shared_ptr<InterruptLine> target = std::atomic_load(&target_);
    if (!target) return {};
    return target->trigger();
  }
  void set(std::shared_ptr<InterruptLine> target) { std::atomic_store(&target_, std::move(target)); }

 private:
  std::shared_ptr<InterruptLine> target_;
};

struct Machine::Impl {
  explicit Impl(kvm::System s, kvm::Vm v, GuestMemory m)
      : system(std::move(s)), vm(std::move(v)), memory(std::move(m)) {}
  kvm::System system;
  kvm::Vm vm;
  GuestMemory memory;
  Bus pio, mmio;
  VcpuControl control;
  x86::EmulationCounters emulation;
  x86::SyscallRepairCounters syscall_repair;
  VcpuStats stats;
  std::vector<std::unique_ptr<VcpuRunner>> vcpus;
  std::unique_ptr<GuestProfiler> profiler;
#ifdef VESSEL_HAVE_VIRTIO
  std::vector<std::shared_ptr<virtio::VirtioMmioDevice>> virtio;
#endif
  std::vector<std::shared_ptr<IrqfdLine>> lines;
  std::shared_ptr<I8042> i8042;
  VmConfig config;
  std::unique_ptr<Mailbox<VmEvent>> events;  // from devices and vCPUs to the owner
  State state = State::Created;
  std::optional<VmEvent> event;  // the first one posted
  bool stopped = false;
};

Machine::Machine(VmConfig config, MachineOptions options)
    : config_(std::move(config)), options_(std::move(options)), com1_relay_(std::make_shared<RelayLine>()) {
  serial_ = std::make_shared<Serial>(com1_relay_, options_.console_fd);
}

Machine::~Machine() {
  if (impl_) stop_vcpus();
}

Result<std::unique_ptr<Machine>> Machine::create(const VmConfig& config, MachineOptions options) {
  TRY(validate_for_start(config));
  std::unique_ptr<Machine> machine(new Machine(config, std::move(options)));
  machine->impl_ = TRY(machine->build());
  return machine;
}

// One incarnation of the VM: KVM VM, memory with the kernel loaded, devices, vCPUs.
Result<std::unique_ptr<Machine::Impl>> Machine::build() {
  const VmConfig& config = config_;
  const MachineOptions& options = options_;
  const BootSource& boot = *config.boot_source;
  auto system = TRY(kvm::System::open());
  auto vm = TRY(system.create_vm());
  TRY(vm.set_identity_map_addr(0xfffbc000));
  TRY(vm.set_tss_addr(0xfffbd000));
  TRY(vm.create_irqchip());
  TRY(vm.create_pit2());
  auto memory = TRY_CTX(GuestMemory::create(config.machine.mem_size_mib << 20), "allocate guest memory");
  for (const auto& r : memory.regions()) TRY(vm.set_user_memory_region(r.slot, r.guest_base, r.size, r.host));

  auto impl = std::make_unique<Impl>(std::move(system), std::move(vm), std::move(memory));
  impl->config = config;
  impl->events = TRY(Mailbox<VmEvent>::create());
  Impl* m = impl.get();
  EventSink events = [m](VmEvent e) {
    m->events->post(std::move(e));
    // The VM is over: no vCPU runs another guest instruction.
    m->control.set_state(VcpuControl::State::Stopping);
  };

  // Legacy devices on the port bus.
  auto com1_irq = TRY(make_irq_line(m->vm, x86::kCom1Irq));
  m->lines.push_back(com1_irq);
  com1_relay_->set(com1_irq);
  TRY(m->pio.insert(serial_, x86::kPortCom1, 8));
  auto keyboard_irq = TRY(make_irq_line(m->vm, x86::kKeyboardIrq));
  m->lines.push_back(keyboard_irq);
  m->i8042 = std::make_shared<I8042>(events, keyboard_irq);
  TRY(m->pio.insert(m->i8042, x86::kPortI8042Data, 5));
  TRY(m->pio.insert(std::make_shared<DebugExit>(events), x86::kPortDebugExit, 1));
  TRY(m->pio.insert(std::make_shared<AcpiPower>(events), x86::kPortAcpiSleepControl, 3));

  // Virtio devices: one 4 KiB window and one GSI each, described in the DSDT.
  x86::AcpiConfig acpi{config.machine.vcpu_count, {}};
  // Kernel parameters we add go before "--": what follows it is for init, not the kernel.
  std::string cmdline = boot.boot_args, init_args;
  if (auto pos = (" " + cmdline + " ").find(" -- "); pos != std::string::npos) {
    init_args = " " + cmdline.substr(pos);  // "--" starts at `pos` in the unpadded string
    cmdline.erase(pos);
    while (!cmdline.empty() && cmdline.back() == ' ') cmdline.pop_back();
  }
  auto add_window = [&](uint32_t index) {
    uint64_t base = x86::kVirtioMmioBase + index * x86::kVirtioMmioWindow;
    uint32_t gsi = x86::kVirtioFirstGsi + index;
    acpi.virtio_mmio.push_back({base, x86::kVirtioMmioWindow, gsi});
    cmdline += fmt::format(" virtio_mmio.device=4K@{:#x}:{}", base, gsi);
    return std::pair{base, gsi};
  };
#ifdef VESSEL_HAVE_VIRTIO
  uint32_t index = 0;
  auto context = [&](uint64_t base, uint32_t gsi) -> Result<virtio::DeviceContext> {
    auto line = TRY(make_irq_line(m->vm, gsi));
    m->lines.push_back(line);
    virtio::DeviceContext ctx;
    ctx.memory = &m->memory;
    ctx.irq = line;
    ctx.mmio_base = base;
    ctx.thread_nice = config.io_nice;
    ctx.add_ioeventfd = [m](uint64_t addr, uint32_t len, std::optional<uint64_t> datamatch, int fd) {
      return m->vm.ioeventfd(addr, len, datamatch, fd);
    };
    return ctx;
  };
  for (const auto& d : config.drives) {
    auto [base, gsi] = add_window(index++);
    virtio::BlockConfig bc;
    bc.drive_id = d.drive_id;
    bc.path = d.path_on_host;
    bc.read_only = d.is_read_only;
    if (d.format) {
      bc.format = *d.format == DriveFormat::Qcow2 ? block::Format::Qcow2 : block::Format::Raw;
    } else {
      // No format given: trust the header (the daemon always names it: see docs/vmm-api.md).
      bc.format = TRY_CTX(block::probe_format(d.path_on_host), "drive {}: probe the image format", d.drive_id);
    }
    auto dev = TRY_CTX(virtio::create_block(bc, TRY(context(base, gsi))), "drive {}", d.drive_id);
    TRY(m->mmio.insert(dev, base, x86::kVirtioMmioWindow));
    m->virtio.push_back(dev);
    if (d.is_root_device && cmdline.find("root=") == std::string::npos)
      cmdline += fmt::format(" root=/dev/vd{} {}", static_cast<char>('a' + index - 1), d.is_read_only ? "ro" : "rw");
  }
  if (config.entropy) {
    auto [base, gsi] = add_window(index++);
    auto dev = TRY_CTX(virtio::create_rng(TRY(context(base, gsi))), "entropy device");
    TRY(m->mmio.insert(dev, base, x86::kVirtioMmioWindow));
    m->virtio.push_back(dev);
  }
#else
  (void)add_window;
  if (!config.drives.empty() || config.entropy)
    return fail(ENOTSUP, "this vessel-vmm was built without virtio devices");
#endif

  // Kernel, initrd, firmware tables, boot information.
  auto kernel = TRY(x86::load_kernel(m->memory, boot.kernel_image_path));
  x86::BootData data;
  if (boot.initrd_path) {
    uint64_t max = kernel.protocol == x86::BootProtocol::LinuxBzImage ? kernel.initrd_addr_max : 0;
    data.initrd = TRY(x86::load_initrd(m->memory, *boot.initrd_path, kernel.kernel_end, max));
  }
  data.rsdp = TRY_CTX(x86::write_acpi_tables(m->memory, acpi), "write ACPI tables");
  bool pvm = kvm::System::is_pvm();
  if (pvm && kernel.is_linux && cmdline.find("xsave") == std::string::npos) {
    // PVM hosts show the guest XSAVE whatever CPUID we set; XSAVES/XRSTORS on every context
    // switch would each need our emulator, and user-space AVX state would not survive them.
    cmdline += " noxsave";
  }
  if (pvm && kernel.is_linux && cmdline.find("clearcpuid") == std::string::npos) {
    // Same for SSE3, PCLMULQDQ, SSSE3, SSE4.1, SSE4.2 and AES-NI (feature bits 128, 129, 137, 147,
    // 148, 153): the kernel would run SIMD code in ring 0 (blake2s_compress_ssse3 in the random
    // driver ended a boot on `paddq`) that KVM's emulator cannot; cleared, it uses generic C.
    cmdline += " clearcpuid=128,129,137,147,148,153";
  }
  cmdline += init_args;
  while (!cmdline.empty() && cmdline.front() == ' ') cmdline.erase(0, 1);
  data.cmdline = cmdline;
  TRY(x86::write_boot_data(m->memory, kernel, data));

  // vCPUs.
  auto supported = TRY(m->system.supported_cpuid());
  VcpuRunner::install_kick_handler();
  if (!options.guest_profile.empty()) {
    m->profiler = std::make_unique<GuestProfiler>(config.machine.vcpu_count, options.guest_profile_interval,
                                                  options.guest_profile);
  }
  for (uint32_t i = 0; i < config.machine.vcpu_count; ++i) {
    auto vcpu = TRY(m->vm.create_vcpu(i));
    TRY(vcpu.set_cpuid(x86::vcpu_cpuid(supported, {i, config.machine.vcpu_count, pvm})));
    TRY(x86::setup_fpu_and_msrs(vcpu));
    TRY(x86::setup_lapic(vcpu));
    if (i == 0) TRY(x86::setup_boot_vcpu(vcpu, kernel));
    VcpuContext ctx{&m->pio, &m->mmio, &m->memory, events, &m->control, &m->emulation, &m->stats, m->profiler.get(),
                    pvm ? &m->syscall_repair : nullptr};
    m->vcpus.push_back(std::make_unique<VcpuRunner>(std::move(vcpu), ctx));
  }
  log::debug("machine created: {} vCPUs, {} MiB, kernel {} (entry {:#x}), cmdline '{}'", config.machine.vcpu_count,
             config.machine.mem_size_mib, boot.kernel_image_path, kernel.entry, data.cmdline);
  return impl;
}

Result<void> Machine::start() {
  if (impl_->state != State::Created) return fail(EINVAL, "the VM was already started");
  for (auto& v : impl_->vcpus) v->start();
  if (impl_->profiler) {
    std::vector<pthread_t> threads;
    for (auto& v : impl_->vcpus) threads.push_back(v->native_handle());
    impl_->profiler->start(std::move(threads), VcpuRunner::kick_signal());
  }
  impl_->state = State::Running;
  return {};
}

Result<void> Machine::pause() {
  if (!impl_) return fail(EINVAL, "the VM is stopped");
  if (impl_->state == State::Paused) return {};
  if (impl_->state != State::Running) return fail(EINVAL, "cannot pause a VM that is {}", to_string(impl_->state));
  impl_->control.set_state(VcpuControl::State::Paused);
  impl_->control.wait_parked(impl_->vcpus.size());
#ifdef VESSEL_HAVE_VIRTIO
  for (auto& d : impl_->virtio) TRY(d->pause());
#endif
  impl_->state = State::Paused;
  return {};
}

Result<void> Machine::resume() {
  if (!impl_) return fail(EINVAL, "the VM is stopped");
  if (impl_->state == State::Running) return {};
  if (impl_->state != State::Paused) return fail(EINVAL, "cannot resume a VM that is {}", to_string(impl_->state));
#ifdef VESSEL_HAVE_VIRTIO
  for (auto& d : impl_->virtio) TRY(d->resume());
#endif
  impl_->control.set_state(VcpuControl::State::Running);
  impl_->state = State::Running;
  return {};
}

Result<void> Machine::send_ctrl_alt_del() {
  if (!impl_) return fail(EINVAL, "SendCtrlAltDel: the VM is stopped");
  if (impl_->state != State::Running && impl_->state != State::Paused)
    return fail(EINVAL, "SendCtrlAltDel: the VM is {}", to_string(impl_->state));
  return impl_->i8042->send_ctrl_alt_del();
}

void Machine::post_event(VmEvent event) {
  if (impl_) impl_->events->post(std::move(event));
}

int Machine::event_fd() const { return impl_ ? impl_->events->fd() : -1; }

std::optional<VmEvent> Machine::take_event() {
  if (!impl_) return std::nullopt;
  impl_->events->serve([this](VmEvent& e) {
    if (!impl_->event) impl_->event = std::move(e);
  });
  if (!impl_->event) return std::nullopt;
  VmEvent event = *impl_->event;
  stop_vcpus();
  // A panicking kernel with panic=-1 reboots at once: report the panic, not the reboot.
  if (event.kind == VmEvent::Kind::Reboot || event.kind == VmEvent::Kind::Poweroff) {
    if (auto panic = serial_->panic_message()) event = {VmEvent::Kind::Panic, 3, *panic};
  }
  if (event.kind != VmEvent::Kind::Reboot || config_.on_reboot != OnReboot::Restart || stopping_) return event;
  if (auto r = restart(); !r)  // impl_ is gone: every call now answers "stopped"
    return VmEvent{VmEvent::Kind::Error, 2, fmt::format("restart after the guest rebooted: {}", r.error().to_string())};
  return std::nullopt;
}

Result<void> Machine::restart() {
  log::info("guest rebooted ({}): restarting the VM", impl_->event ? impl_->event->reason : "");
  impl_.reset();  // vCPUs were joined by take_event; devices flush and stop, KVM frees the VM
  impl_ = TRY(build());
  TRY(start());
  ++reboots_;
  return {};
}

void Machine::begin_shutdown() { stopping_ = true; }

void Machine::stop_vcpus() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->profiler) impl_->profiler->stop();
  impl_->control.set_state(VcpuControl::State::Stopping);
  for (auto& v : impl_->vcpus) v->join();
  if (impl_->profiler) {
    if (auto w = impl_->profiler->write(); !w)
      log::warn("guest profile: {}", w.error().to_string());
    else
      log::info("guest profile: {} samples written", impl_->profiler->samples());
  }
#ifdef VESSEL_HAVE_VIRTIO
  for (auto& d : impl_->virtio) {
    (void)d->pause();  // quiesce device threads before teardown
    if (auto r = d->sync(); !r) log::error("{}", r.error().to_string());
  }
#endif
  impl_->state = State::Stopped;
}

Machine::State Machine::state() const {
  if (!impl_) return State::Stopped;  // a restart failed
  return impl_->state;
}

int Machine::exit_code(const VmEvent& e) {
  switch (e.kind) {
    case VmEvent::Kind::Poweroff:
    case VmEvent::Kind::Reboot: return 0;
    case VmEvent::Kind::DebugExit: return e.code;
    case VmEvent::Kind::Panic: return 3;
    case VmEvent::Kind::Error: return 2;
    case VmEvent::Kind::Terminated: return 128 + e.code;
  }
  return 2;
}

json::Json Machine::metrics() const {
  std::string st = to_string(state());
  if (!impl_) return json::Json{{"state", st}, {"reboots", reboots_}};
  const auto& s = impl_->stats;
  json::Json j = {
      {"state", st},
      {"reboots", reboots_},
      {"vcpu", {{"count", impl_->vcpus.size()}, {"exits", s.exits.load()}, {"io", s.io.load()},
                {"mmio", s.mmio.load()}, {"unhandled_io", s.unhandled_io.load()},
                {"unhandled_mmio", s.unhandled_mmio.load()}, {"internal_errors", s.internal_errors.load()},
                {"unclaimed", s.unclaimed()}}},
      {"emulation", impl_->emulation.to_json()},
      {"pvm_syscall_repair", {{"syscalls", impl_->syscall_repair.syscalls.load()},
                              {"page_faults", impl_->syscall_repair.page_faults.load()},
                              {"arms", impl_->syscall_repair.arms.load()}}},
      {"serial", {{"bytes_written", serial_->bytes_written()}}},
  };
  json::Json devices = json::Json::array();
#ifdef VESSEL_HAVE_VIRTIO
  for (const auto& d : impl_->virtio) devices.push_back(d->metrics());
#endif
  j["devices"] = devices;
  return j;
}

const char* to_string(Machine::State state) {
  switch (state) {
    case Machine::State::Created: return "Not started";
    case Machine::State::Running: return "Running";
    case Machine::State::Paused: return "Paused";
    case Machine::State::Stopped: return "Stopped";
  }
  return "unknown";
}

}  // namespace vessel::vmm
