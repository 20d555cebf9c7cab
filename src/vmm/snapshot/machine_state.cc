#include "vmm/snapshot/machine_state.h"

#include "vmm/snapshot/byte_codec.h"
#include "vmm/snapshot/state_file.h"

namespace vessel::vmm::snapshot {
namespace {

// The version each section is written with; decode() reads every version up to this one.
constexpr uint32_t kVersionOf[] = {0, /*Machine*/ 1, /*Vcpu*/ 1, /*Vm*/ 1, /*Serial*/ 1, /*I8042*/ 1, /*Virtio*/ 1,
                                   /*CmosRtc*/ 1, /*Net*/ 1, /*Vsock*/ 1, /*Balloon*/ 1,
                                   /*Watchdog*/ 1};
constexpr uint32_t kDeviceTypeNetSection = 1, kDeviceTypeVsockSection = 19, kDeviceTypeBalloonSection = 5;  // virtio ids
constexpr uint32_t kLastId = static_cast<uint32_t>(SectionId::Watchdog);

Section section(SectionId id, ByteWriter& w) {
  return {static_cast<uint32_t>(id), kVersionOf[static_cast<uint32_t>(id)], w.take()};
}

Section encode_machine(const MachineState& s) {
  ByteWriter w;
  w.put(s.vcpu_count);
  w.put(s.mem_size);
  w.put<uint32_t>(static_cast<uint32_t>(s.cpuid.size()));
  for (const auto& e : s.cpuid) w.put(e);
  w.put_string(s.config);
  return section(SectionId::Machine, w);
}

Section encode_vcpu(const VcpuSnapshot& v) {
  ByteWriter w;
  w.put(v.regs);
  w.put(v.sregs);
  w.put(v.xsave);
  w.put(v.xcrs);
  w.put(v.debugregs);
  w.put<uint32_t>(static_cast<uint32_t>(v.msrs.size()));
  for (const auto& m : v.msrs) w.put(m);
  w.put(v.lapic);
  w.put(v.events);
  w.put(v.mp_state);
  return section(SectionId::Vcpu, w);
}

Section encode_vm(const VmSnapshot& vm) {
  ByteWriter w;
  w.put(vm.clock);
  w.put(vm.pic_master);
  w.put(vm.pic_slave);
  w.put(vm.ioapic);
  w.put(vm.pit);
  return section(SectionId::Vm, w);
}

Section encode_serial(const SerialState& s) {
  ByteWriter w;
  for (uint8_t b : {s.ier, s.lcr, s.mcr, s.scr, s.dll, s.dlm, s.fcr}) w.put(b);
  w.put<uint8_t>(s.thr_empty_pending ? 1 : 0);
  w.put_string(s.rx);
  return section(SectionId::Serial, w);
}

Section encode_i8042(const I8042State& s) {
  ByteWriter w;
  w.put(s.command_byte);
  w.put(s.pending_command);
  w.put(s.pending_key_command);
  w.put_string(s.out);
  return section(SectionId::I8042, w);
}

Section encode_rtc(const CmosRtcState& r) {
  ByteWriter w;
  w.put(r.index);
  w.put(r.offset);
  w.put<uint8_t>(r.setting ? 1 : 0);
  for (int32_t v : {r.sec, r.min, r.hour, r.mday, r.mon, r.year, r.wday}) w.put(v);
  w.put(r.ram);
  return section(SectionId::CmosRtc, w);
}

Section encode_net_section(const NetState& n) {
  ByteWriter w;
  encode_net(n, w);
  return section(SectionId::Net, w);
}

Section encode_vsock_section(const VsockState& v) {
  ByteWriter w;
  encode_vsock(v, w);
  return section(SectionId::Vsock, w);
}

Section encode_balloon_section(const BalloonState& b) {
  ByteWriter w;
  encode_balloon(b, w);
  return section(SectionId::Balloon, w);
}

Section encode_watchdog(const WatchdogState& s) {
  ByteWriter w;
  w.put<uint8_t>(s.armed ? 1 : 0);
  w.put(s.timeout_value);
  w.put(s.remaining_ms);
  return section(SectionId::Watchdog, w);
}

Section encode_virtio(const VirtioState& d) {
  ByteWriter w;
  w.put(d.device_type);
  w.put(d.mmio_base);
  w.put(d.status);
  w.put(d.interrupt_status);
  w.put(d.config_generation);
  w.put(d.features_sel);
  w.put(d.driver_features_sel);
  w.put(d.queue_sel);
  w.put(d.driver_features);
  w.put<uint32_t>(static_cast<uint32_t>(d.queues.size()));
  for (const auto& q : d.queues) {
    w.put(q.size);
    w.put<uint8_t>(q.ready ? 1 : 0);
    w.put(q.desc);
    w.put(q.avail);
    w.put(q.used);
    w.put(q.next_avail);
    w.put(q.next_used);
    w.put(q.signalled_used);
  }
  return section(SectionId::Virtio, w);
}

Result<bool> get_bool(ByteReader& r) {
  uint8_t b = TRY(r.get<uint8_t>());
  if (b > 1) return fail(EINVAL, "a flag holds {} (0 or 1)", b);
  return b == 1;
}

Result<void> decode_machine(ByteReader& r, MachineState& s) {
  s.vcpu_count = TRY(r.get<uint32_t>());
  if (s.vcpu_count == 0 || s.vcpu_count > kMaxVcpus) return fail(EINVAL, "vcpu_count {} (1 to {})", s.vcpu_count, kMaxVcpus);
  s.mem_size = TRY(r.get<uint64_t>());
  if (s.mem_size == 0 || s.mem_size % 4096 != 0 || s.mem_size > (1ull << 40))
    return fail(EINVAL, "memory size {} is not a positive multiple of 4096 up to 1 TiB", s.mem_size);
  uint32_t n = TRY(r.get<uint32_t>());
  if (n > kMaxCpuidEntries) return fail(EINVAL, "{} CPUID entries (at most {})", n, kMaxCpuidEntries);
  for (uint32_t i = 0; i < n; ++i) s.cpuid.push_back(TRY(r.get<kvm_cpuid_entry2>()));
  s.config = TRY(r.get_string(kMaxConfigBytes));
  return {};
}

Result<VcpuSnapshot> decode_vcpu(ByteReader& r) {
  VcpuSnapshot v;
  v.regs = TRY(r.get<kvm_regs>());
  v.sregs = TRY(r.get<kvm_sregs>());
  v.xsave = TRY(r.get<kvm::XsaveArea>());
  v.xcrs = TRY(r.get<kvm_xcrs>());
  if (v.xcrs.nr_xcrs > KVM_MAX_XCRS) return fail(EINVAL, "{} XCRs (at most {})", v.xcrs.nr_xcrs, KVM_MAX_XCRS);
  v.debugregs = TRY(r.get<kvm_debugregs>());
  uint32_t n = TRY(r.get<uint32_t>());
  if (n > kMaxMsrs) return fail(EINVAL, "{} MSRs (at most {})", n, kMaxMsrs);
  for (uint32_t i = 0; i < n; ++i) v.msrs.push_back(TRY(r.get<kvm_msr_entry>()));
  v.lapic = TRY(r.get<kvm_lapic_state>());
  v.events = TRY(r.get<kvm_vcpu_events>());
  v.mp_state = TRY(r.get<kvm_mp_state>());
  return v;
}

Result<void> decode_vm(ByteReader& r, VmSnapshot& vm) {
  vm.clock = TRY(r.get<kvm_clock_data>());
  vm.pic_master = TRY(r.get<kvm_irqchip>());
  vm.pic_slave = TRY(r.get<kvm_irqchip>());
  vm.ioapic = TRY(r.get<kvm_irqchip>());
  if (vm.pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER || vm.pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
      vm.ioapic.chip_id != KVM_IRQCHIP_IOAPIC)
    return fail(EINVAL, "irqchip ids {}, {}, {} (expected 0, 1, 2)", vm.pic_master.chip_id, vm.pic_slave.chip_id,
                vm.ioapic.chip_id);
  vm.pit = TRY(r.get<kvm_pit_state2>());
  return {};
}

Result<void> decode_serial(ByteReader& r, SerialState& s) {
  for (uint8_t* b : {&s.ier, &s.lcr, &s.mcr, &s.scr, &s.dll, &s.dlm, &s.fcr}) *b = TRY(r.get<uint8_t>());
  s.thr_empty_pending = TRY(get_bool(r));
  s.rx = TRY(r.get_string(4096));
  return {};
}

Result<void> decode_i8042(ByteReader& r, I8042State& s) {
  s.command_byte = TRY(r.get<uint8_t>());
  s.pending_command = TRY(r.get<uint8_t>());
  s.pending_key_command = TRY(r.get<uint8_t>());
  s.out = TRY(r.get_string(16));
  return {};
}

Result<CmosRtcState> decode_rtc(ByteReader& r) {
  CmosRtcState s;
  s.index = TRY(r.get<uint8_t>());
  s.offset = TRY(r.get<int64_t>());
  s.setting = TRY(get_bool(r));
  for (int32_t* v : {&s.sec, &s.min, &s.hour, &s.mday, &s.mon, &s.year, &s.wday}) *v = TRY(r.get<int32_t>());
  s.ram = TRY(r.get<std::array<uint8_t, 128>>());
  return s;
}

Result<WatchdogState> decode_watchdog(ByteReader& r) {
  WatchdogState s;
  s.armed = TRY(get_bool(r));
  s.timeout_value = TRY(r.get<uint8_t>());
  if (s.timeout_value > 0x0f) return fail(EINVAL, "timeout value {} (the start port takes 0 to 15)", s.timeout_value);
  s.remaining_ms = TRY(r.get<uint64_t>());
  return s;
}

Result<VirtioState> decode_virtio(ByteReader& r) {
  VirtioState d;
  d.device_type = TRY(r.get<uint32_t>());
  d.mmio_base = TRY(r.get<uint64_t>());
  d.status = TRY(r.get<uint32_t>());
  d.interrupt_status = TRY(r.get<uint32_t>());
  d.config_generation = TRY(r.get<uint32_t>());
  d.features_sel = TRY(r.get<uint32_t>());
  d.driver_features_sel = TRY(r.get<uint32_t>());
  d.queue_sel = TRY(r.get<uint32_t>());
  d.driver_features = TRY(r.get<uint64_t>());
  uint32_t n = TRY(r.get<uint32_t>());
  if (n > kMaxQueues) return fail(EINVAL, "{} queues (at most {})", n, kMaxQueues);
  for (uint32_t i = 0; i < n; ++i) {
    VirtqueueState q;
    q.size = TRY(r.get<uint16_t>());
    q.ready = TRY(get_bool(r));
    q.desc = TRY(r.get<uint64_t>());
    q.avail = TRY(r.get<uint64_t>());
    q.used = TRY(r.get<uint64_t>());
    q.next_avail = TRY(r.get<uint16_t>());
    q.next_used = TRY(r.get<uint16_t>());
    q.signalled_used = TRY(r.get<uint16_t>());
    d.queues.push_back(q);
  }
  return d;
}

const char* section_name(uint32_t id) {
  static constexpr const char* kNames[] = {"?",      "machine", "vcpu",   "vm",  "serial",
                                                 "i8042",  "virtio",  "cmos_rtc", "net", "vsock", "balloon",
                                                 "watchdog"};
  return id >= 1 && id <= kLastId ? kNames[id] : "unknown";
}

Result<void> decode_section(const Section& s, MachineState& out, uint32_t (&seen)[kLastId + 1]) {
  if (s.id == 0 || s.id > kLastId)
    return fail(ENOTSUP, "unknown section id {} (written by a newer vessel-vmm?)", s.id);
  if (s.version == 0 || s.version > kVersionOf[s.id])
    return fail(ENOTSUP, "{} section version {} is not supported (this vessel-vmm reads up to {})", section_name(s.id),
                s.version, kVersionOf[s.id]);
  ++seen[s.id];
  auto id = static_cast<SectionId>(s.id);
  bool repeats = id == SectionId::Vcpu || id == SectionId::Virtio || id == SectionId::Net;
  if (!repeats && seen[s.id] > 1) return fail(EINVAL, "{} section appears twice", section_name(s.id));
  if (id != SectionId::Machine && seen[1] == 0) return fail(EINVAL, "{} section before the machine section", section_name(s.id));
  ByteReader r(s.bytes, section_name(s.id));
  switch (id) {
    case SectionId::Machine: TRY(decode_machine(r, out)); break;
    case SectionId::Vcpu:
      if (out.vcpus.size() >= out.vcpu_count) return fail(EINVAL, "more vcpu sections than vcpu_count {}", out.vcpu_count);
      out.vcpus.push_back(TRY(decode_vcpu(r)));
      break;
    case SectionId::Vm: TRY(decode_vm(r, out.vm)); break;
    case SectionId::Serial: TRY(decode_serial(r, out.serial)); break;
    case SectionId::I8042: TRY(decode_i8042(r, out.i8042)); break;
    case SectionId::Virtio:
      if (out.virtio.size() >= kMaxVirtioDevices) return fail(EINVAL, "more than {} virtio devices", kMaxVirtioDevices);
      out.virtio.push_back(TRY(decode_virtio(r)));
      break;
    case SectionId::CmosRtc: out.rtc = TRY(decode_rtc(r)); break;
    case SectionId::Net:
      if (out.net.size() >= kMaxNetDevices) return fail(EINVAL, "more than {} net sections", kMaxNetDevices);
      out.net.push_back(TRY(decode_net(r)));
      break;
    case SectionId::Vsock: out.vsock = TRY(decode_vsock(r)); break;
    case SectionId::Balloon: out.balloon = TRY(decode_balloon(r)); break;
    case SectionId::Watchdog: out.watchdog = TRY(decode_watchdog(r)); break;
  }
  return r.finish();
}

// Each net or vsock section names a virtio section of its kind by window, and no two name the same.
Result<void> check_device_sections(const MachineState& s) {
  auto virtio_at = [&](uint64_t base, uint32_t type) {
    for (const auto& d : s.virtio)
      if (d.mmio_base == base && d.device_type == type) return true;
    return false;
  };
  for (size_t i = 0; i < s.net.size(); ++i) {
    if (!virtio_at(s.net[i].mmio_base, kDeviceTypeNetSection))
      return fail(EINVAL, "snapshot: net section {} names no virtio-net device at {:#x}", s.net[i].iface_id,
                  s.net[i].mmio_base);
    for (size_t j = 0; j < i; ++j)
      if (s.net[j].mmio_base == s.net[i].mmio_base)
        return fail(EINVAL, "snapshot: two net sections for the device at {:#x}", s.net[i].mmio_base);
  }
  if (s.vsock && !virtio_at(s.vsock->mmio_base, kDeviceTypeVsockSection))
    return fail(EINVAL, "snapshot: the vsock section names no virtio-vsock device at {:#x}", s.vsock->mmio_base);
  if (s.balloon && !virtio_at(s.balloon->mmio_base, kDeviceTypeBalloonSection))
    return fail(EINVAL, "snapshot: the balloon section names no virtio-balloon device at {:#x}", s.balloon->mmio_base);
  return {};
}

}  // namespace

std::vector<uint8_t> encode(const MachineState& state) {
  std::vector<Section> sections;
  sections.push_back(encode_machine(state));
  for (const auto& v : state.vcpus) sections.push_back(encode_vcpu(v));
  sections.push_back(encode_vm(state.vm));
  sections.push_back(encode_serial(state.serial));
  sections.push_back(encode_i8042(state.i8042));
  for (const auto& d : state.virtio) sections.push_back(encode_virtio(d));
  if (state.rtc) sections.push_back(encode_rtc(*state.rtc));
  for (const auto& n : state.net) sections.push_back(encode_net_section(n));
  if (state.vsock) sections.push_back(encode_vsock_section(*state.vsock));
  if (state.balloon) sections.push_back(encode_balloon_section(*state.balloon));
  if (state.watchdog) sections.push_back(encode_watchdog(*state.watchdog));
  return serialize(sections);
}

Result<MachineState> decode(std::span<const uint8_t> file) {
  auto sections = TRY(parse(file));
  MachineState out;
  uint32_t seen[kLastId + 1] = {};
  for (size_t i = 0; i < sections.size(); ++i)
    TRY_CTX(decode_section(sections[i], out, seen), "snapshot section {} ({})", i, section_name(sections[i].id));
  for (auto id : {SectionId::Machine, SectionId::Vm, SectionId::Serial, SectionId::I8042})
    if (seen[static_cast<uint32_t>(id)] == 0)
      return fail(EINVAL, "snapshot: the {} section is missing", section_name(static_cast<uint32_t>(id)));
  if (out.vcpus.size() != out.vcpu_count)
    return fail(EINVAL, "snapshot: {} vcpu sections for vcpu_count {}", out.vcpus.size(), out.vcpu_count);
  TRY(check_device_sections(out));
  return out;
}

}  // namespace vessel::vmm::snapshot
