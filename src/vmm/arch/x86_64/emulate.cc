// The decoder: fetch the instruction, read its prefixes, pick the family handler by opcode.
#include "vmm/arch/x86_64/emulate.h"

#include "vmm/arch/x86_64/emulation.h"

namespace vessel::vmm::x86 {
namespace {

// Fetches up to 15 bytes at RIP, stopping at an unmapped page (the instruction may end before it).
size_t fetch(Emulation& e) {
  uint64_t rip_linear = e.s.cs.base + e.r.rip;
  if (!e.in.long_mode) rip_linear &= 0xffffffffull;
  size_t fetched = 0;
  while (fetched < kMaxInsnLength) {
    size_t chunk = std::min<size_t>(kMaxInsnLength - fetched, 0x1000 - ((rip_linear + fetched) & 0xfff));
    if (!read_gva(e.mem, e.paging, rip_linear + fetched, e.in.bytes + fetched, chunk)) break;
    fetched += chunk;
  }
  return fetched;
}

// Legacy prefixes, then REX (64-bit mode).
void decode_prefixes(Emulation& e) {
  Insn& in = e.in;
  for (; in.len < e.fetched; ++in.len) {
    uint8_t b = in.bytes[in.len];
    if (b == 0x66) in.opsize = true;
    else if (b == 0x67) in.addrsize = true;
    else if (b == 0xf3) in.rep = true;
    else if (b == 0xf2) in.repne = true;
    else if (b == 0x64) in.segment = 4;
    else if (b == 0x65) in.segment = 5;
    else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0xf0) continue;
    else break;
  }
  if (in.long_mode && in.len < e.fetched && (in.bytes[in.len] & 0xf0) == 0x40) in.rex = in.bytes[in.len++];
}

Result<std::string> dispatch_0f(Emulation& e) {
  uint8_t op2 = e.next_byte();
  if (op2 == 0x0b) return emulate_ud2(e);
  if (op2 == 0x01) return emulate_0f01(e);
  if (op2 == 0x02 || op2 == 0x03) return emulate_lar_lsl(e, op2);
  if (e.in.rep && (op2 == 0xb8 || op2 == 0xbc || op2 == 0xbd)) return emulate_bitcount(e, op2);
  if (auto sse = emulate_sse(e, op2)) {
    if (!*sse) ++e.counters.unhandled;
    return std::move(*sse);
  }
  if ((op2 != 0xae && op2 != 0xc7) || e.in.len >= e.fetched) return e.unhandled();
  e.in.modrm = e.next_byte();
  return emulate_group_ae_c7(e, op2);
}

Result<std::string> dispatch(Emulation& e) {
  uint8_t op = e.next_byte();
  switch (op) {
    case 0xcc: return emulate_int3(e);
    case 0xcd: return emulate_int_n(e);
    case 0x9b: return emulate_fwait(e);
    case 0x0f:
      if (e.in.len >= e.fetched) return e.unhandled();
      return dispatch_0f(e);
    default:
      if (op >= 0xd8 && op <= 0xdf && e.in.len < e.fetched) return emulate_x87_control(e, op);
      return e.unhandled();
  }
}

}  // namespace

Result<uint64_t> Emulation::memory_operand() {
  uint64_t addr = TRY(modrm_address(in, r, s, 0));
  if (rip_relative(in)) addr += r.rip + in.len + s.cs.base;
  return addr;
}

Result<void> Emulation::retire() {
  r.rip += in.len;
  return cpu.set_regs(r);
}

Result<void> Emulation::inject(uint8_t vector, std::optional<uint32_t> error_code) {
  kvm_vcpu_events ev = TRY(cpu.get_events());
  ev.flags = 0;
  ev.exception.injected = 1;
  ev.exception.pending = 0;
  ev.exception.nr = vector;
  ev.exception.has_error_code = error_code.has_value();
  ev.exception.error_code = error_code.value_or(0);
  return cpu.set_events(ev);
}

Result<std::string> Emulation::unhandled() {
  ++counters.unhandled;
  return fail(ENOTSUP, "cannot emulate the instruction at rip {:#x} (cpl {}, {}): {}", start_rip, s.cs.selector & 3,
              in.long_mode ? "64-bit" : "32-bit", hex_bytes(in.bytes, fetched));
}

json::Json EmulationCounters::to_json() const {
  return {{"int3", int3.load()},         {"int_n", int_n.load()},       {"ud2", ud2.load()},
          {"fxsave", fxsave.load()},     {"fxrstor", fxrstor.load()},   {"xsave", xsave.load()},
          {"xrstor", xrstor.load()},     {"cmpxchg16b", cmpxchg16b.load()},
          {"stac_clac", stac_clac.load()}, {"xgetbv", xgetbv.load()},   {"xsetbv", xsetbv.load()},
          {"rdrand", rdrand.load()},     {"popcnt", popcnt.load()},     {"lzcnt_tzcnt", bitcount.load()}, {"x87_sse_control", x87.load()},
          {"sse_moves", sse.load()},          {"lar_lsl", lar_lsl.load()},
          {"unhandled", unhandled.load()}};
}

Result<std::string> emulate_failed_instruction(VcpuState& vcpu, const GuestMemory& mem, EmulationCounters& c) {
  Emulation e{vcpu, mem, c};
  e.r = TRY(vcpu.get_regs());
  e.s = TRY(vcpu.get_sregs());
  e.paging = PagingState::from(e.s);
  e.in.long_mode = (e.s.efer & (1u << 10)) && e.s.cs.l;
  e.start_rip = e.r.rip;
  e.fetched = fetch(e);
  if (e.fetched == 0) {
    ++c.unhandled;
    return fail(EFAULT, "cannot fetch the instruction at rip {:#x}: not mapped", e.r.rip);
  }
  decode_prefixes(e);
  if (e.in.len >= e.fetched) {
    ++c.unhandled;
    return fail(EINVAL, "truncated instruction at rip {:#x}: {}", e.r.rip, hex_bytes(e.in.bytes, e.fetched));
  }
  return dispatch(e);
}

Result<std::string> emulate_failed_instruction(kvm::Vcpu& vcpu, const GuestMemory& mem, EmulationCounters& c) {
  KvmVcpuState state(vcpu);
  return emulate_failed_instruction(state, mem, c);
}

}  // namespace vessel::vmm::x86
