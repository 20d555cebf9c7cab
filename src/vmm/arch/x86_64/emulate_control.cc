// Interrupts, exceptions and the control instructions (x87/SSE control, AC flag, XCR0, rdrand,
// fences, bit counts): the families of emulation.h that touch no save area.
#include <cstring>

#include "vmm/arch/x86_64/emulation.h"

namespace vessel::vmm::x86 {
namespace {

// INT n in 64-bit kernel mode: deliver through the IDT by hand (same privilege level; IST honoured).
Result<void> deliver_soft_interrupt_64(Emulation& e, uint8_t vector) {
  const kvm_sregs& s = e.s;
  kvm_regs& r = e.r;
  if ((s.cs.selector & 3) != 0) return fail(ENOTSUP, "INT {} from user mode", vector);
  if (vector * 16ull + 15 > s.idt.limit) return fail(EINVAL, "INT {} beyond the IDT limit", vector);
  uint8_t gate[16];
  TRY(read_gva(e.mem, e.paging, s.idt.base + vector * 16ull, gate, 16));
  if (!(gate[5] & 0x80)) return fail(EINVAL, "INT {}: gate not present", vector);
  uint64_t target = gate[0] | (uint64_t{gate[1]} << 8) | (uint64_t{gate[6]} << 16) | (uint64_t{gate[7]} << 24);
  uint32_t high;
  std::memcpy(&high, gate + 8, 4);
  target |= uint64_t{high} << 32;
  uint16_t selector = gate[2] | (gate[3] << 8);
  unsigned ist = gate[4] & 7, type = gate[5] & 0xf;
  uint64_t rsp = r.rsp;
  if (ist) TRY(read_gva(e.mem, e.paging, s.tr.base + 36 + (ist - 1) * 8, &rsp, 8));
  rsp &= ~0xfull;
  uint64_t frame[5] = {r.rip, s.cs.selector, r.rflags, r.rsp, s.ss.selector};
  rsp -= sizeof frame;
  TRY(write_gva(e.mem, e.paging, rsp, frame, sizeof frame));
  r.rsp = rsp;
  r.rip = target;
  r.rflags &= ~kFlagTf;
  if (type == 0xe) r.rflags &= ~kFlagIf;  // interrupt gate
  if (selector != s.cs.selector) {
    kvm_sregs ns = s;
    ns.cs.selector = selector;
    TRY(e.cpu.set_sregs(ns));
  }
  return {};
}

}  // namespace

Result<std::string> emulate_int3(Emulation& e) {  // a trap: RIP points past it
  TRY(e.retire());
  TRY(e.inject(3));
  ++e.counters.int3;
  return std::string("int3 -> #BP");
}

Result<std::string> emulate_int_n(Emulation& e) {
  uint8_t vector = e.next_byte();
  e.r.rip += e.in.len;
  if (vector < 32) {
    TRY(e.cpu.set_regs(e.r));
    TRY(e.inject(vector));
  } else {
    if (!e.in.long_mode) return e.unhandled();
    TRY(deliver_soft_interrupt_64(e, vector));
    TRY(e.cpu.set_regs(e.r));
  }
  ++e.counters.int_n;
  return fmt::format("int {:#x}", vector);
}

Result<std::string> emulate_fwait(Emulation& e) {  // no x87 exceptions are ever pending here
  TRY(e.retire());
  ++e.counters.x87;
  return std::string("fwait");
}

// The x87 control instructions Linux uses: fninit, fnclex, fnstsw ax, fldcw/fnstcw/fnstsw m16.
Result<std::string> emulate_x87_control(Emulation& e, uint8_t op) {
  Insn& in = e.in;
  in.modrm = e.next_byte();
  unsigned reg = (in.modrm >> 3) & 7, mod = in.modrm >> 6;
  kvm_fpu fpu = TRY(e.cpu.get_fpu());
  if (op == 0xdb && in.modrm == 0xe3) {  // fninit
    fpu.fcw = 0x37f;
    fpu.fsw = 0;
    fpu.ftwx = 0;
    fpu.last_opcode = 0;
    fpu.last_ip = fpu.last_dp = 0;
    TRY(e.cpu.set_fpu(fpu));
  } else if (op == 0xdb && in.modrm == 0xe2) {  // fnclex
    fpu.fsw &= 0x7f00;
    TRY(e.cpu.set_fpu(fpu));
  } else if (op == 0xdf && in.modrm == 0xe0) {  // fnstsw ax
    e.r.rax = (e.r.rax & ~0xffffull) | fpu.fsw;
  } else if (mod != 3 && ((op == 0xd9 && (reg == 5 || reg == 7)) || (op == 0xdd && reg == 7))) {
    uint64_t addr = TRY(e.memory_operand());
    if (op == 0xd9 && reg == 5) {  // fldcw m16
      uint16_t cw;
      TRY(read_gva(e.mem, e.paging, addr, &cw, 2));
      fpu.fcw = cw;
      TRY(e.cpu.set_fpu(fpu));
    } else {  // fnstcw m16 / fnstsw m16
      uint16_t v = op == 0xd9 ? fpu.fcw : fpu.fsw;
      TRY(write_gva(e.mem, e.paging, addr, &v, 2));
    }
  } else {
    return e.unhandled();
  }
  TRY(e.retire());
  ++e.counters.x87;
  return fmt::format("x87 {:02x} {:02x}", op, in.modrm);
}

Result<std::string> emulate_ud2(Emulation& e) {  // #UD at the instruction (BUG()/WARN() rely on it)
  TRY(e.inject(6));
  ++e.counters.ud2;
  return std::string("ud2 -> #UD");
}

Result<std::string> emulate_0f01(Emulation& e) {
  kvm_regs& r = e.r;
  uint8_t m = e.next_byte();
  if (m == 0xca || m == 0xcb) {  // clac / stac
    r.rflags = m == 0xcb ? (r.rflags | kFlagAc) : (r.rflags & ~kFlagAc);
    TRY(e.retire());
    ++e.counters.stac_clac;
    return std::string(m == 0xcb ? "stac" : "clac");
  }
  if (m == 0xd0) {  // xgetbv
    if ((r.rcx & 0xffffffff) != 0) {
      TRY(e.inject(13, 0));
      return std::string("xgetbv bad index -> #GP");
    }
    r.rax = kXcr0;
    r.rdx = 0;
    TRY(e.retire());
    ++e.counters.xgetbv;
    return std::string("xgetbv");
  }
  if (m == 0xd1) {  // xsetbv: only x87|SSE is accepted
    uint64_t value = (r.rdx << 32) | (r.rax & 0xffffffff);
    if ((r.rcx & 0xffffffff) != 0 || (value & ~kXcr0) || !(value & 1)) {
      TRY(e.inject(13, 0));
      return std::string("xsetbv unsupported value -> #GP");
    }
    TRY(e.retire());
    ++e.counters.xsetbv;
    return std::string("xsetbv");
  }
  return e.unhandled();
}

Result<std::string> emulate_bitcount(Emulation& e, uint8_t op2) {  // popcnt / tzcnt / lzcnt r, r/m
  Insn& in = e.in;
  kvm_regs& r = e.r;
  if (in.len >= e.fetched) return e.unhandled();
  in.modrm = e.next_byte();
  unsigned bits = (in.rex & 8) ? 64 : in.opsize ? 16 : 32;
  uint64_t src = 0;
  if ((in.modrm >> 6) == 3) {
    src = *reg_by_index(r, (in.modrm & 7) | ((in.rex & 1) << 3));
  } else {
    uint64_t addr = TRY(e.memory_operand());
    TRY(read_gva(e.mem, e.paging, addr, &src, bits / 8));
  }
  if (bits < 64) src &= (1ull << bits) - 1;
  uint64_t result;
  r.rflags &= ~(kFlagCf | kFlagZf | 0x8d4ull);  // CF ZF and OF SF AF PF
  if (op2 == 0xb8) {
    result = static_cast<uint64_t>(__builtin_popcountll(src));
    if (src == 0) r.rflags |= kFlagZf;
    ++e.counters.popcnt;
  } else {
    if (src == 0) {
      result = bits;
      r.rflags |= kFlagCf;
    } else {
      result = op2 == 0xbc ? static_cast<uint64_t>(__builtin_ctzll(src))
                           : static_cast<uint64_t>(__builtin_clzll(src)) - (64 - bits);
    }
    if (result == 0) r.rflags |= kFlagZf;
    ++e.counters.bitcount;
  }
  __u64* dst = reg_by_index(r, ((in.modrm >> 3) & 7) | ((in.rex & 4) << 1));
  if (bits == 16) *dst = (*dst & ~0xffffull) | result;
  else *dst = result;  // 32-bit results zero-extend
  TRY(e.retire());
  return std::string(op2 == 0xb8 ? "popcnt" : op2 == 0xbc ? "tzcnt" : "lzcnt");
}

// 0f ae and 0f c7 (in.modrm read): the register forms here, the memory forms below.
Result<std::string> emulate_group_ae_c7(Emulation& e, uint8_t op2) {
  Insn& in = e.in;
  unsigned reg = (in.modrm >> 3) & 7, mod = in.modrm >> 6;
  if (op2 == 0xc7 && mod == 3 && reg == 6) {  // rdrand: report failure (CF=0), guest retries/gives up
    *reg_by_index(e.r, (in.modrm & 7) | ((in.rex & 1) << 3)) = 0;
    e.r.rflags &= ~kFlagCf;
    TRY(e.retire());
    ++e.counters.rdrand;
    return std::string("rdrand -> CF=0");
  }
  if (op2 == 0xae && mod == 3 && reg >= 5) {  // lfence / mfence / sfence
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    TRY(e.retire());
    ++e.counters.x87;
    return std::string("fence");
  }
  if (mod == 3) return e.unhandled();
  if (op2 == 0xae && (reg == 2 || reg == 3)) {  // ldmxcsr / stmxcsr m32
    uint64_t addr = TRY(e.memory_operand());
    // MXCSR through the XSAVE image: KVM_SET_FPU's mxcsr does not reach the guest on PVM.
    kvm::XsaveArea xs = TRY(e.cpu.get_xsave());
    auto* img = reinterpret_cast<uint8_t*>(xs.region);
    if (reg == 2) {
      uint32_t v;
      TRY(read_gva(e.mem, e.paging, addr, &v, 4));
      if (v & 0xffff0000u) {
        TRY(e.inject(13, 0));
        return std::string("ldmxcsr reserved bits -> #GP");
      }
      std::memcpy(img + 24, &v, 4);
      img[512] |= 0x2;  // XSTATE_BV: SSE state is in the image
      TRY(e.cpu.set_xsave(xs));
    } else {
      TRY(write_gva(e.mem, e.paging, addr, img + 24, 4));
    }
    TRY(e.retire());
    ++e.counters.x87;
    return std::string(reg == 2 ? "ldmxcsr" : "stmxcsr");
  }
  uint64_t addr = TRY(e.memory_operand());
  if (in.len > e.fetched) return e.unhandled();
  return emulate_xsave_family(e, op2, addr);
}

}  // namespace vessel::vmm::x86
