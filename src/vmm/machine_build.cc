// Machine::build(): one incarnation of the VM, from small builders: KVM VM and memory, legacy
// devices, virtio devices, kernel and firmware tables (with the command line), vCPUs.
#include <sys/eventfd.h>

#include "base/log.h"
#include "block/image.h"
#include "vmm/arch/x86_64/acpi.h"
#include "vmm/arch/x86_64/boot_state.h"
#include "vmm/arch/x86_64/cpuid.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/loader.h"
#include "vmm/devices/legacy/cmos_rtc.h"
#include "vmm/devices/legacy/power_ports.h"
#include "vmm/kernel_cmdline.h"
#include "vmm/machine_impl.h"
#include "vmm/snapshot/kvm_state.h"

namespace vessel::vmm {
namespace {

using Impl = Machine::Impl;

Result<std::shared_ptr<IrqfdLine>> make_irq_line(Impl& m, uint32_t gsi) {
  auto fd = TRY(EventFd::create(0, EFD_NONBLOCK));
  auto line = std::make_shared<IrqfdLine>(std::move(fd));
  TRY(m.vm.irqfd(line->fd(), gsi));
  m.lines.push_back(line);
  return line;
}

// The KVM VM (in-kernel irqchip and PIT) and guest RAM in its memory slots.
Result<std::unique_ptr<Impl>> create_vm_and_memory(const VmConfig& config, std::optional<GuestMemory> restored = {}) {
  auto system = TRY(kvm::System::open());
  auto vm = TRY(system.create_vm());
  TRY(vm.set_identity_map_addr(0xfffbc000));
  TRY(vm.set_tss_addr(0xfffbd000));
  TRY(vm.create_irqchip());
  TRY(vm.create_pit2());
  auto memory = restored ? std::move(*restored)
                         : TRY_CTX(GuestMemory::create(config.machine.mem_size_mib << 20,
                                                       config.machine.huge_pages == HugePages::TwoMiB),
                                   "allocate guest memory");
  if (config.machine.ksm) TRY(memory.make_mergeable());
  std::optional<KsmStats> ksm = config.machine.ksm ? KsmStats::open() : std::nullopt;
  // Diff snapshots: KVM logs the guest's writes, GuestMemory vessel-vmm's own.
  uint32_t flags = config.machine.track_dirty_pages ? KVM_MEM_LOG_DIRTY_PAGES : 0;
  if (config.machine.track_dirty_pages) memory.track_dirty_pages();
  for (const auto& r : memory.regions()) TRY(vm.set_user_memory_region(r.slot, r.guest_base, r.size, r.host, flags));
  auto impl = std::make_unique<Impl>(std::move(system), std::move(vm), std::move(memory));
  impl->config = config;
  impl->ksm = std::move(ksm);
  impl->events = TRY(Mailbox<VmEvent>::create());
  return impl;
}

// Where devices and vCPUs report the end of the VM.
EventSink event_sink(Impl* m) {
  return [m](VmEvent e) {
    m->events->post(std::move(e));
    // The VM is over: no vCPU runs another guest instruction.
    m->control.set_state(VcpuControl::State::Stopping);
  };
}

// Legacy devices on the port bus: COM1 (kept across incarnations), i8042, CMOS clock, debug exit,
// ACPI power, and the IB700 watchdog when configured.
Result<void> add_legacy_devices(Impl& m, const EventSink& events, std::shared_ptr<Serial> serial,
                                Machine::RelayLine& com1_relay) {
  com1_relay.set(TRY(make_irq_line(m, x86::kCom1Irq)));
  TRY(m.pio.insert(std::move(serial), x86::kPortCom1, 8));
  m.i8042 = std::make_shared<I8042>(events, TRY(make_irq_line(m, x86::kKeyboardIrq)));
  TRY(m.pio.insert(m.i8042, x86::kPortI8042Data, 5));
  m.rtc = std::make_shared<CmosRtc>();
  TRY(m.pio.insert(m.rtc, x86::kPortCmos, 2));
  TRY(m.pio.insert(std::make_shared<DebugExit>(events), x86::kPortDebugExit, 1));
  TRY(m.pio.insert(std::make_shared<AcpiPower>(events), x86::kPortAcpiSleepControl, 3));
  if (m.config.watchdog) {
    m.watchdog_wake = std::make_shared<EventFd>(TRY(EventFd::create(0, EFD_NONBLOCK)));
    m.watchdog = std::make_shared<Ib700Watchdog>([wake = m.watchdog_wake] { (void)wake->signal(1); });
    TRY(m.pio.insert(m.watchdog, x86::kPortIb700Stop, Ib700Watchdog::kPortCount));
  }
  return {};
}

// Virtio devices: one 4 KiB window and one GSI each, described in the DSDT and on the kernel's
// command line.
class VirtioSlots {
 public:
  VirtioSlots(Impl& m, x86::AcpiConfig& acpi, KernelCmdline& cmdline) : m_(m), acpi_(acpi), cmdline_(cmdline) {}

  uint32_t count() const { return count_; }
  // Reserves the next window (its base and GSI).
  std::pair<uint64_t, uint32_t> next_window() {
    uint64_t base = x86::kVirtioMmioBase + count_ * x86::kVirtioMmioWindow;
    uint32_t gsi = x86::kVirtioFirstGsi + count_++;
    acpi_.virtio_mmio.push_back({base, x86::kVirtioMmioWindow, gsi});
    cmdline_.add(fmt::format("virtio_mmio.device=4K@{:#x}:{}", base, gsi));
    return {base, gsi};
  }
  Result<virtio::DeviceContext> context(uint64_t base, uint32_t gsi) {
    virtio::DeviceContext ctx;
    ctx.memory = &m_.memory;
    ctx.irq = TRY(make_irq_line(m_, gsi));
    ctx.mmio_base = base;
    ctx.thread_nice = m_.config.io_nice;
    ctx.add_ioeventfd = [m = &m_](uint64_t addr, uint32_t len, std::optional<uint64_t> datamatch, int fd) {
      return m->vm.ioeventfd(addr, len, datamatch, fd);
    };
    return ctx;
  }
  Result<void> attach(std::shared_ptr<virtio::VirtioMmioDevice> dev, uint64_t base) {
    TRY(m_.mmio.insert(dev, base, x86::kVirtioMmioWindow));
    m_.virtio.push_back(std::move(dev));
    return {};
  }

 private:
  Impl& m_;
  x86::AcpiConfig& acpi_;
  KernelCmdline& cmdline_;
  uint32_t count_ = 0;
};

Result<virtio::BlockConfig> block_config(const DriveConfig& d) {
  virtio::BlockConfig bc;
  bc.drive_id = d.drive_id;
  bc.path = d.path_on_host;
  bc.read_only = d.is_read_only;
  // No format given: raw, as in Firecracker. The image's first bytes are never asked: a guest
  // writes them on a writable raw disk, and on a read-only one whoever wrote the file did
  // (docs/vmm/api.md, "Formats and backing files").
  bc.format = d.format == DriveFormat::Qcow2 ? block::Format::Qcow2 : block::Format::Raw;
  // A qcow2 drive's chain may use only the files its configuration lists, each with its format
  // recorded in the image that names it.
  bc.backing = block::BackingPolicy::Listed;
  bc.allowed_backing = d.backing_files;
  bc.unsafe_cache = d.cache_type == CacheType::Unsafe;
  bc.rate_limiter = d.rate_limiter;
  return bc;
}

Result<virtio::NetConfig> net_config(const NetworkInterfaceConfig& n) {
  virtio::NetConfig nc;
  nc.iface_id = n.iface_id;
  nc.host_dev_name = n.host_dev_name;
  if (n.guest_mac) nc.mac = TRY(parse_mac(*n.guest_mac, "guest_mac"));
  nc.rx_rate_limiter = n.rx_rate_limiter;
  nc.tx_rate_limiter = n.tx_rate_limiter;
  using V = NetworkInterfaceConfig::Vhost;
  nc.vhost = n.vhost == V::On ? virtio::VhostMode::On : n.vhost == V::Off ? virtio::VhostMode::Off : virtio::VhostMode::Auto;
  return nc;
}

virtio::BalloonDeviceConfig balloon_device_config(const BalloonConfig& b) {
  return {static_cast<uint32_t>(uint64_t{b.amount_mib} << 20 >> virtio::balloon::kPageShift), b.deflate_on_oom,
          b.stats_polling_interval_s, b.free_page_reporting};
}

Result<void> add_virtio_devices(Impl& m, const MachineOptions& options, x86::AcpiConfig& acpi,
                                KernelCmdline& cmdline) {
  VirtioSlots slots(m, acpi, cmdline);
  for (const auto& d : m.config.drives) {
    auto [base, gsi] = slots.next_window();
    auto bc = TRY(block_config(d));
    bc.poll_us = options.virtio_poll_us;
    bc.defer_lock = options.incoming_migration;
    auto dev = TRY_CTX(virtio::create_block(bc, TRY(slots.context(base, gsi))), "drive {}", d.drive_id);
    TRY(slots.attach(dev, base));
    m.virtio_by_id["drive/" + d.drive_id] = dev;
    if (d.is_root_device && !cmdline.mentions("root=")) {
      std::string root = d.partuuid ? "PARTUUID=" + *d.partuuid
                                    : fmt::format("/dev/vd{}", static_cast<char>('a' + slots.count() - 1));
      cmdline.add(fmt::format("root={} {}", root, d.is_read_only ? "ro" : "rw"));
    }
  }
  if (m.config.entropy) {
    auto [base, gsi] = slots.next_window();
    auto dev = TRY_CTX(virtio::create_rng(TRY(slots.context(base, gsi))), "entropy device");
    TRY(slots.attach(dev, base));
  }
  if (const auto& v = m.config.vsock) {  // after entropy: earlier devices keep their windows
    auto [base, gsi] = slots.next_window();
    auto dev = TRY_CTX(virtio::create_vsock({v->guest_cid, v->uds_path}, TRY(slots.context(base, gsi))),
                       "vsock device");
    TRY(slots.attach(dev, base));
  }
  for (const auto& n : m.config.network_interfaces) {
    auto [base, gsi] = slots.next_window();
    auto dev = TRY_CTX(virtio::create_net(TRY(net_config(n)), TRY(slots.context(base, gsi))),
                       "network-interfaces[{}]", n.iface_id);
    TRY(slots.attach(dev, base));
    m.virtio_by_id["net/" + n.iface_id] = dev;
  }
  if (const auto& b = m.config.balloon) {  // last: the other devices keep the windows they had
    auto [base, gsi] = slots.next_window();
    auto dev = TRY_CTX(virtio::create_balloon(balloon_device_config(*b), TRY(slots.context(base, gsi))),
                       "balloon device");
    TRY(slots.attach(dev.device, base));
    m.balloon = std::move(dev.control);
  }
  return {};
}

// What the kernel command line gets on PVM hosts.
void add_pvm_parameters(KernelCmdline& cmdline) {
  // PVM hosts show the guest XSAVE whatever CPUID we set; XSAVES/XRSTORS on every context
  // switch would each need our emulator, and user-space AVX state would not survive them.
  if (!cmdline.mentions("xsave")) cmdline.add("noxsave");
  // Same for SSE3, PCLMULQDQ, SSSE3, SSE4.1, SSE4.2 and AES-NI (feature bits 128, 129, 137, 147,
  // 148, 153): the kernel would run SIMD code in ring 0 (blake2s_compress_ssse3 in the random
  // driver ended a boot on `paddq`) that KVM's emulator cannot; cleared, it uses generic C.
  if (!cmdline.mentions("clearcpuid")) cmdline.add("clearcpuid=128,129,137,147,148,153");
}

// Kernel, initrd, firmware tables and boot information (with the final command line).
Result<x86::LoadedKernel> load_guest(Impl& m, const x86::AcpiConfig& acpi, KernelCmdline& cmdline, bool pvm) {
  const BootSource& boot = *m.config.boot_source;
  auto kernel = TRY(x86::load_kernel(m.memory, boot.kernel_image_path));
  x86::BootData data;
  if (boot.initrd_path) {
    uint64_t max = kernel.protocol == x86::BootProtocol::LinuxBzImage ? kernel.initrd_addr_max : 0;
    data.initrd = TRY(x86::load_initrd(m.memory, *boot.initrd_path, kernel.kernel_end, max));
  }
  data.rsdp = TRY_CTX(x86::write_acpi_tables(m.memory, acpi), "write ACPI tables");
  if (pvm && kernel.is_linux) add_pvm_parameters(cmdline);
  data.cmdline = cmdline.str();
  TRY(x86::write_boot_data(m.memory, kernel, data));
  return kernel;
}

// `kernel`: none for a restored machine (its vCPU state comes from the snapshot).
Result<void> create_vcpus(Impl& m, const x86::LoadedKernel* kernel, const EventSink& events,
                          const MachineOptions& options, bool pvm) {
  uint32_t count = m.config.machine.vcpu_count;
  auto supported = TRY(m.system.supported_cpuid());
  VcpuRunner::install_kick_handler();
  if (!options.guest_profile.empty())
    m.profiler = std::make_unique<GuestProfiler>(count, options.guest_profile_interval, options.guest_profile);
  for (uint32_t i = 0; i < count; ++i) {
    auto vcpu = TRY(m.vm.create_vcpu(i));
    auto cpuid = x86::vcpu_cpuid(supported, {i, count, pvm});
    TRY(vcpu.set_cpuid(cpuid));
    TRY(x86::setup_fpu_and_msrs(vcpu));
    TRY(x86::setup_lapic(vcpu));
    if (i == 0) {
      m.cpuid0 = cpuid.entries;
      m.msrs = TRY_CTX(snapshot::saveable_msrs(m.system, vcpu), "list the vCPU's MSRs");
      if (kernel) TRY(x86::setup_boot_vcpu(vcpu, *kernel));
    }
    VcpuContext ctx{&m.pio, &m.mmio, &m.memory, events, &m.control, &m.emulation, &m.stats, m.profiler.get(),
                    pvm ? &m.syscall_repair : nullptr};
    m.vcpus.push_back(std::make_unique<VcpuRunner>(std::move(vcpu), ctx));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Machine::Impl>> Machine::build() {
  auto impl = TRY(create_vm_and_memory(config_));
  EventSink events = event_sink(impl.get());
  TRY(add_legacy_devices(*impl, events, serial_, *com1_relay_));
  x86::AcpiConfig acpi{config_.machine.vcpu_count, {}};
  KernelCmdline cmdline(config_.boot_source->boot_args);
  TRY(add_virtio_devices(*impl, options_, acpi, cmdline));
  bool pvm = kvm::System::is_pvm();
  auto kernel = TRY(load_guest(*impl, acpi, cmdline, pvm));
  TRY(create_vcpus(*impl, &kernel, events, options_, pvm));
  log::debug("machine created: {} vCPUs, {} MiB, kernel {} (entry {:#x}), cmdline '{}'", config_.machine.vcpu_count,
             config_.machine.mem_size_mib, config_.boot_source->kernel_image_path, kernel.entry, cmdline.str());
  return impl;
}

// The same machine as build() but on restored guest RAM, without loading a kernel: the caller
// (machine_snapshot.cc) puts the saved KVM and device state in.
Result<std::unique_ptr<Machine::Impl>> Machine::build_restored(GuestMemory memory) {
  auto impl = TRY(create_vm_and_memory(config_, std::move(memory)));
  EventSink events = event_sink(impl.get());
  TRY(add_legacy_devices(*impl, events, serial_, *com1_relay_));
  x86::AcpiConfig acpi{config_.machine.vcpu_count, {}};  // the guest has its tables in RAM already
  KernelCmdline cmdline("");
  TRY(add_virtio_devices(*impl, options_, acpi, cmdline));
  TRY(create_vcpus(*impl, nullptr, events, options_, kvm::System::is_pvm()));
  return impl;
}

}  // namespace vessel::vmm
