#include "vmm/snapshot/state_info.h"

#include <fmt/format.h>

#include <cstring>

namespace vessel::vmm::snapshot {
namespace {

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

const char* mp_state_name(uint32_t s) {
  switch (s) {
    case KVM_MP_STATE_RUNNABLE: return "runnable";
    case KVM_MP_STATE_UNINITIALIZED: return "uninitialized";
    case KVM_MP_STATE_INIT_RECEIVED: return "init-received";
    case KVM_MP_STATE_HALTED: return "halted";
    case KVM_MP_STATE_SIPI_RECEIVED: return "sipi-received";
    default: return "other";
  }
}

uint32_t lapic_reg(const kvm_lapic_state& lapic, size_t offset) {
  uint32_t v = 0;
  std::memcpy(&v, lapic.regs + offset, sizeof v);
  return v;
}

// The vectors set in one of the LAPIC's 256-bit registers (IRR, ISR): eight 32-bit words 16 bytes apart.
json::Json lapic_vectors(const kvm_lapic_state& lapic, size_t base) {
  json::Json out = json::Json::array();
  for (unsigned word = 0; word < 8; ++word) {
    uint32_t bits = lapic_reg(lapic, base + word * 0x10);
    for (unsigned bit = 0; bit < 32; ++bit)
      if (bits & (1u << bit)) out.push_back(word * 32 + bit);
  }
  return out;
}

json::Json describe_lapic(const kvm_lapic_state& lapic) {
  uint32_t lvt_timer = lapic_reg(lapic, 0x320);
  static constexpr const char* kTimerModes[] = {"one-shot", "periodic", "tsc-deadline", "reserved"};
  return {{"id", lapic_reg(lapic, 0x20) >> 24},
          {"tpr", lapic_reg(lapic, 0x80)},
          {"svr", hex(lapic_reg(lapic, 0xf0))},
          {"irr", lapic_vectors(lapic, 0x200)},
          {"isr", lapic_vectors(lapic, 0x100)},
          {"timer",
           {{"vector", lvt_timer & 0xff},
            {"masked", (lvt_timer >> 16) & 1},
            {"mode", kTimerModes[(lvt_timer >> 17) & 3]},
            {"initial_count", lapic_reg(lapic, 0x380)},
            {"current_count", lapic_reg(lapic, 0x390)},
            {"divide", lapic_reg(lapic, 0x3e0)}}}};
}

// The MSRs worth reading when a restored guest stalls: its clocks and the timer's deadline.
json::Json describe_msrs(const std::vector<kvm_msr_entry>& msrs) {
  static constexpr std::pair<uint32_t, const char*> kNamed[] = {
      {0x10, "tsc"},           {0x1b, "apic_base"},          {0x6e0, "tsc_deadline"}, {0x3b, "tsc_adjust"},
      {0x4b564d00, "kvm_wall_clock_new"}, {0x4b564d01, "kvm_system_time_new"}, {0x4b564d02, "kvm_async_pf_en"},
      {0x4b564d03, "kvm_steal_time"},     {0x4b564d04, "kvm_pv_eoi_en"}};
  json::Json out = json::Json::object();
  for (const auto& [index, name] : kNamed)
    for (const auto& m : msrs)
      if (m.index == index) out[name] = hex(m.data);
  out["saved"] = msrs.size();
  return out;
}

json::Json describe_vcpu(size_t id, const VcpuSnapshot& v) {
  const auto& e = v.events;
  return {{"id", id},
          {"mp_state", mp_state_name(v.mp_state.mp_state)},
          {"rip", hex(v.regs.rip)},
          {"rsp", hex(v.regs.rsp)},
          {"rflags", hex(v.regs.rflags)},
          {"cr0", hex(v.sregs.cr0)},
          {"cr3", hex(v.sregs.cr3)},
          {"cr4", hex(v.sregs.cr4)},
          {"efer", hex(v.sregs.efer)},
          {"cpl", v.sregs.cs.dpl},
          {"events",
           {{"exception", e.exception.injected || e.exception.pending ? json::Json(e.exception.nr) : json::Json()},
            {"interrupt", e.interrupt.injected ? json::Json(e.interrupt.nr) : json::Json()},
            {"interrupt_shadow", e.interrupt.shadow},
            {"nmi_pending", e.nmi.pending},
            {"nmi_injected", e.nmi.injected},
            {"nmi_masked", e.nmi.masked}}},
          {"lapic", describe_lapic(v.lapic)},
          {"msrs", describe_msrs(v.msrs)}};
}

json::Json describe_ioapic(const kvm_irqchip& chip) {
  const auto& io = chip.chip.ioapic;
  json::Json pins = json::Json::array();
  for (unsigned pin = 0; pin < KVM_IOAPIC_NUM_PINS; ++pin) {
    const auto& r = io.redirtbl[pin];
    if (r.fields.mask) continue;
    pins.push_back({{"pin", pin},
                    {"vector", r.fields.vector},
                    {"level", r.fields.trig_mode},
                    {"remote_irr", r.fields.remote_irr},
                    {"dest", r.fields.dest_id}});
  }
  return {{"irr", hex(io.irr)}, {"unmasked_pins", pins}};
}

json::Json describe_virtio(const VirtioState& d) {
  json::Json queues = json::Json::array();
  for (const auto& q : d.queues)
    queues.push_back({{"size", q.size},
                      {"ready", q.ready},
                      {"next_avail", q.next_avail},
                      {"next_used", q.next_used},
                      {"signalled_used", q.signalled_used}});
  return {{"device_type", d.device_type},
          {"mmio_base", hex(d.mmio_base)},
          {"status", hex(d.status)},
          {"interrupt_status", d.interrupt_status},
          {"queues", queues}};
}

}  // namespace

json::Json describe(const MachineState& s) {
  json::Json vcpus = json::Json::array();
  for (size_t i = 0; i < s.vcpus.size(); ++i) vcpus.push_back(describe_vcpu(i, s.vcpus[i]));
  json::Json virtio = json::Json::array();
  for (const auto& d : s.virtio) virtio.push_back(describe_virtio(d));
  json::Json config = json::Json::parse(s.config, nullptr, false);
  json::Json j = {{"vcpu_count", s.vcpu_count},
                 {"mem_size_mib", s.mem_size >> 20},
                 {"cpuid_entries", s.cpuid.size()},
                 {"kvmclock_ns", s.vm.clock.clock},
                 {"ioapic", describe_ioapic(s.vm.ioapic)},
                 {"pit_channel0_count", s.vm.pit.channels[0].count},
                 {"vcpus", vcpus},
                 {"virtio", virtio},
                 {"cmos_rtc", s.rtc.has_value()},
                 {"config", config.is_discarded() ? json::Json(s.config) : config}};
  if (s.watchdog)
    j["watchdog"] = {{"armed", s.watchdog->armed}, {"timeout_value", s.watchdog->timeout_value},
                     {"remaining_ms", s.watchdog->remaining_ms}};
  return j;
}

}  // namespace vessel::vmm::snapshot
