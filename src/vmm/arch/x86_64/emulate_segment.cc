// lar and lsl: what the GDT or LDT says about a selector. Linux reads its CPU and node number with
// `lsl` on the per-CPU GDT entry (GDT_ENTRY_CPUNODE) in its paranoid entry path, which NMIs take
// (an RCU stall's backtrace sends them), and KVM's emulator on PVM gives up on it.
#include "vmm/arch/x86_64/emulation.h"

namespace vessel::vmm::x86 {
namespace {

constexpr uint8_t kLar = 0x02, kLsl = 0x03;

// The 8-byte descriptor `selector` names, or nullopt when the CPU would clear ZF for lack of one
// (null selector, beyond the table's limit, table unreadable).
std::optional<uint64_t> read_descriptor(Emulation& e, uint16_t selector) {
  bool in_ldt = selector & 4;
  uint64_t index = selector >> 3;
  if (!in_ldt && index == 0) return std::nullopt;
  uint64_t base = in_ldt ? e.s.ldt.base : e.s.gdt.base;
  uint64_t limit = in_ldt ? e.s.ldt.limit : e.s.gdt.limit;
  if (in_ldt && e.s.ldt.unusable) return std::nullopt;
  if (index * 8 + 7 > limit) return std::nullopt;
  uint64_t descriptor = 0;
  if (!read_gva(e.mem, e.paging, base + index * 8, &descriptor, 8)) return std::nullopt;
  return descriptor;
}

// The descriptor types each instruction accepts (SDM: LAR, LSL), then the privilege check that
// every segment but conforming code gets: DPL >= CPL and DPL >= RPL.
bool accessible(Emulation& e, uint64_t descriptor, uint8_t op2, uint16_t selector) {
  unsigned type = (descriptor >> 40) & 0xf, dpl = (descriptor >> 45) & 3;
  bool code_or_data = (descriptor >> 44) & 1;
  if (!code_or_data) {
    // System segments: 64-bit mode keeps LDT and the 64-bit TSS (and call gates for lar).
    unsigned long_ok = op2 == kLar ? 0x1a04 : 0x0a04;    // types 2, 9, 0xb (+ 0xc)
    unsigned legacy_ok = op2 == kLar ? 0x1a3e : 0x0a0e;  // + 1, 3 (+ 4, 5, 0xc)
    if (!(((e.in.long_mode ? long_ok : legacy_ok) >> type) & 1)) return false;
  }
  bool conforming_code = code_or_data && (type & 0xc) == 0xc;
  unsigned cpl = e.s.cs.selector & 3, rpl = selector & 3;
  return conforming_code || (dpl >= cpl && dpl >= rpl);
}

uint64_t queried_value(uint64_t descriptor, uint8_t op2) {
  if (op2 == kLar) return (descriptor >> 32) & 0x00f0ff00;
  uint64_t limit = (descriptor & 0xffff) | ((descriptor >> 32) & 0xf0000);
  bool granular = (descriptor >> 55) & 1;
  return granular ? (limit << 12) | 0xfff : limit;
}

}  // namespace

Result<std::string> emulate_lar_lsl(Emulation& e, uint8_t op2) {
  Insn& in = e.in;
  if ((op2 != kLar && op2 != kLsl) || in.len >= e.fetched) return e.unhandled();
  in.modrm = e.next_byte();
  uint16_t selector = 0;
  if ((in.modrm >> 6) == 3) {
    selector = *reg_by_index(e.r, (in.modrm & 7) | ((in.rex & 1) << 3)) & 0xffff;
  } else {
    uint64_t addr = TRY(e.memory_operand());
    if (in.len > e.fetched) return e.unhandled();
    TRY(read_gva(e.mem, e.paging, addr, &selector, 2));
  }
  auto descriptor = read_descriptor(e, selector);
  e.r.rflags &= ~kFlagZf;
  if (descriptor && accessible(e, *descriptor, op2, selector)) {
    uint64_t value = queried_value(*descriptor, op2);
    __u64* dst = reg_by_index(e.r, ((in.modrm >> 3) & 7) | ((in.rex & 4) << 1));
    if (in.opsize && !(in.rex & 8)) *dst = (*dst & ~0xffffull) | (value & 0xffff);
    else *dst = value;  // 32-bit results zero-extend
    e.r.rflags |= kFlagZf;
  }
  TRY(e.retire());
  ++e.counters.lar_lsl;
  return fmt::format("{} {:#x}{}", op2 == kLar ? "lar" : "lsl", selector, descriptor ? "" : " (no descriptor: ZF=0)");
}

}  // namespace vessel::vmm::x86
