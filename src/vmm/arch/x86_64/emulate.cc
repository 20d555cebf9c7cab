#include "vmm/arch/x86_64/emulate.h"

#include <cstring>
#include <mutex>

#include "vmm/arch/x86_64/emulate_sse.h"
#include "vmm/arch/x86_64/guest_walk.h"
#include "vmm/arch/x86_64/instruction.h"

namespace vessel::vmm::x86 {
namespace {

constexpr uint64_t kFlagCf = 1, kFlagZf = 1 << 6, kFlagTf = 1 << 8, kFlagIf = 1 << 9, kFlagAc = 1 << 18;
constexpr uint64_t kXcr0 = 0x3;  // what the guest sees: x87 | SSE (XSAVE is masked on PVM)

// Serialises emulated read-modify-write instructions (cmpxchg16b) between vCPUs.
std::mutex g_atomic_emulation;

Result<void> inject_exception(kvm::Vcpu& vcpu, uint8_t vector, std::optional<uint32_t> error_code = {}) {
  kvm_vcpu_events ev = TRY(vcpu.get_events());
  ev.flags = 0;
  ev.exception.injected = 1;
  ev.exception.pending = 0;
  ev.exception.nr = vector;
  ev.exception.has_error_code = error_code.has_value();
  ev.exception.error_code = error_code.value_or(0);
  return vcpu.set_events(ev);
}

// INT n in 64-bit kernel mode: deliver through the IDT by hand (same privilege level; IST honoured).
Result<void> deliver_soft_interrupt_64(kvm::Vcpu& vcpu, const GuestMemory& mem, kvm_regs& r,
                                       const kvm_sregs& s, uint8_t vector) {
  PagingState p = PagingState::from(s);
  if ((s.cs.selector & 3) != 0) return fail(ENOTSUP, "INT {} from user mode", vector);
  if (vector * 16ull + 15 > s.idt.limit) return fail(EINVAL, "INT {} beyond the IDT limit", vector);
  uint8_t gate[16];
  TRY(read_gva(mem, p, s.idt.base + vector * 16ull, gate, 16));
  if (!(gate[5] & 0x80)) return fail(EINVAL, "INT {}: gate not present", vector);
  uint64_t target = gate[0] | (uint64_t{gate[1]} << 8) | (uint64_t{gate[6]} << 16) | (uint64_t{gate[7]} << 24);
  uint32_t high;
  std::memcpy(&high, gate + 8, 4);
  target |= uint64_t{high} << 32;
  uint16_t selector = gate[2] | (gate[3] << 8);
  unsigned ist = gate[4] & 7, type = gate[5] & 0xf;
  uint64_t rsp = r.rsp;
  if (ist) TRY(read_gva(mem, p, s.tr.base + 36 + (ist - 1) * 8, &rsp, 8));
  rsp &= ~0xfull;
  uint64_t frame[5] = {r.rip, s.cs.selector, r.rflags, r.rsp, s.ss.selector};
  rsp -= sizeof frame;
  TRY(write_gva(mem, p, rsp, frame, sizeof frame));
  r.rsp = rsp;
  r.rip = target;
  r.rflags &= ~kFlagTf;
  if (type == 0xe) r.rflags &= ~kFlagIf;  // interrupt gate
  if (selector != s.cs.selector) {
    kvm_sregs ns = s;
    ns.cs.selector = selector;
    TRY(vcpu.set_sregs(ns));
  }
  return {};
}

}  // namespace

json::Json EmulationCounters::to_json() const {
  return {{"int3", int3.load()},         {"int_n", int_n.load()},       {"ud2", ud2.load()},
          {"fxsave", fxsave.load()},     {"fxrstor", fxrstor.load()},   {"xsave", xsave.load()},
          {"xrstor", xrstor.load()},     {"cmpxchg16b", cmpxchg16b.load()},
          {"stac_clac", stac_clac.load()}, {"xgetbv", xgetbv.load()},   {"xsetbv", xsetbv.load()},
          {"rdrand", rdrand.load()},     {"popcnt", popcnt.load()},     {"lzcnt_tzcnt", bitcount.load()}, {"x87_sse_control", x87.load()},
          {"sse_moves", sse.load()},
          {"unhandled", unhandled.load()}};
}

Result<std::string> emulate_failed_instruction(kvm::Vcpu& vcpu, const GuestMemory& mem, EmulationCounters& c) {
  kvm_regs r = TRY(vcpu.get_regs());
  kvm_sregs s = TRY(vcpu.get_sregs());
  PagingState p = PagingState::from(s);
  Insn in;
  in.long_mode = (s.efer & (1u << 10)) && s.cs.l;
  uint64_t rip_linear = s.cs.base + r.rip;
  if (!in.long_mode) rip_linear &= 0xffffffffull;
  // Fetch up to 15 bytes, stopping at an unmapped page (the instruction may end before it).
  size_t fetched = 0;
  while (fetched < kMaxInsnLength) {
    size_t chunk = std::min<size_t>(kMaxInsnLength - fetched, 0x1000 - ((rip_linear + fetched) & 0xfff));
    if (!read_gva(mem, p, rip_linear + fetched, in.bytes + fetched, chunk)) break;
    fetched += chunk;
  }
  if (fetched == 0) {
    ++c.unhandled;
    return fail(EFAULT, "cannot fetch the instruction at rip {:#x}: not mapped", r.rip);
  }
  // Prefixes.
  for (; in.len < fetched; ++in.len) {
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
  if (in.long_mode && in.len < fetched && (in.bytes[in.len] & 0xf0) == 0x40) in.rex = in.bytes[in.len++];
  if (in.len >= fetched) {
    ++c.unhandled;
    return fail(EINVAL, "truncated instruction at rip {:#x}: {}", r.rip, hex_bytes(in.bytes, fetched));
  }
  uint64_t start_rip = r.rip;
  auto unhandled = [&]() -> Result<std::string> {
    ++c.unhandled;
    return Unexpected(Error(ENOTSUP, fmt::format("cannot emulate the instruction at rip {:#x} (cpl {}, {}): {}",
                                                 start_rip, s.cs.selector & 3, in.long_mode ? "64-bit" : "32-bit",
                                                 hex_bytes(in.bytes, fetched))));
  };
  uint8_t op = in.bytes[in.len++];

  if (op == 0xcc) {  // int3: a trap, RIP points past it
    r.rip += in.len;
    TRY(vcpu.set_regs(r));
    TRY(inject_exception(vcpu, 3));
    ++c.int3;
    return std::string("int3 -> #BP");
  }
  if (op == 0xcd) {  // INT n
    uint8_t vector = in.bytes[in.len++];
    r.rip += in.len;
    if (vector < 32) {
      TRY(vcpu.set_regs(r));
      TRY(inject_exception(vcpu, vector));
    } else {
      if (!in.long_mode) return unhandled();
      TRY(deliver_soft_interrupt_64(vcpu, mem, r, s, vector));
      TRY(vcpu.set_regs(r));
    }
    ++c.int_n;
    return fmt::format("int {:#x}", vector);
  }
  if (op == 0x9b) {  // fwait: no x87 exceptions are ever pending here
    r.rip += in.len;
    TRY(vcpu.set_regs(r));
    ++c.x87;
    return std::string("fwait");
  }
  if (op >= 0xd8 && op <= 0xdf && in.len < fetched) {  // the x87 control instructions Linux uses
    in.modrm = in.bytes[in.len++];
    unsigned reg = (in.modrm >> 3) & 7, mod = in.modrm >> 6;
    kvm_fpu fpu = TRY(vcpu.get_fpu());
    if (op == 0xdb && in.modrm == 0xe3) {  // fninit
      fpu.fcw = 0x37f;
      fpu.fsw = 0;
      fpu.ftwx = 0;
      fpu.last_opcode = 0;
      fpu.last_ip = fpu.last_dp = 0;
      TRY(vcpu.set_fpu(fpu));
    } else if (op == 0xdb && in.modrm == 0xe2) {  // fnclex
      fpu.fsw &= 0x7f00;
      TRY(vcpu.set_fpu(fpu));
    } else if (op == 0xdf && in.modrm == 0xe0) {  // fnstsw ax
      r.rax = (r.rax & ~0xffffull) | fpu.fsw;
    } else if (mod != 3 && ((op == 0xd9 && (reg == 5 || reg == 7)) || (op == 0xdd && reg == 7))) {
      uint64_t addr = TRY(modrm_address(in, r, s, 0));
      if ((in.modrm & 0xc7) == 0x05 && in.long_mode) addr += r.rip + in.len + s.cs.base;
      if (op == 0xd9 && reg == 5) {  // fldcw m16
        uint16_t cw;
        TRY(read_gva(mem, p, addr, &cw, 2));
        fpu.fcw = cw;
        TRY(vcpu.set_fpu(fpu));
      } else {  // fnstcw m16 / fnstsw m16
        uint16_t v = op == 0xd9 ? fpu.fcw : fpu.fsw;
        TRY(write_gva(mem, p, addr, &v, 2));
      }
    } else {
      return unhandled();
    }
    r.rip += in.len;
    TRY(vcpu.set_regs(r));
    ++c.x87;
    return fmt::format("x87 {:02x} {:02x}", op, in.modrm);
  }
  if (op != 0x0f || in.len >= fetched) return unhandled();
  uint8_t op2 = in.bytes[in.len++];
  if (op2 == 0x0b) {  // ud2: #UD at the instruction (BUG()/WARN() rely on it)
    TRY(inject_exception(vcpu, 6));
    ++c.ud2;
    return std::string("ud2 -> #UD");
  }
  if (op2 == 0x01) {
    uint8_t m = in.bytes[in.len++];
    if (m == 0xca || m == 0xcb) {  // clac / stac
      r.rflags = m == 0xcb ? (r.rflags | kFlagAc) : (r.rflags & ~kFlagAc);
      r.rip += in.len;
      TRY(vcpu.set_regs(r));
      ++c.stac_clac;
      return std::string(m == 0xcb ? "stac" : "clac");
    }
    if (m == 0xd0) {  // xgetbv
      if ((r.rcx & 0xffffffff) != 0) {
        TRY(inject_exception(vcpu, 13, 0));
        return std::string("xgetbv bad index -> #GP");
      }
      r.rax = kXcr0;
      r.rdx = 0;
      r.rip += in.len;
      TRY(vcpu.set_regs(r));
      ++c.xgetbv;
      return std::string("xgetbv");
    }
    if (m == 0xd1) {  // xsetbv: only x87|SSE is accepted
      uint64_t value = (r.rdx << 32) | (r.rax & 0xffffffff);
      if ((r.rcx & 0xffffffff) != 0 || (value & ~kXcr0) || !(value & 1)) {
        TRY(inject_exception(vcpu, 13, 0));
        return std::string("xsetbv unsupported value -> #GP");
      }
      r.rip += in.len;
      TRY(vcpu.set_regs(r));
      ++c.xsetbv;
      return std::string("xsetbv");
    }
    return unhandled();
  }
  if (in.rep && (op2 == 0xb8 || op2 == 0xbc || op2 == 0xbd)) {  // popcnt / tzcnt / lzcnt r, r/m
    if (in.len >= fetched) return unhandled();
    in.modrm = in.bytes[in.len++];
    unsigned bits = (in.rex & 8) ? 64 : in.opsize ? 16 : 32;
    uint64_t src = 0;
    if ((in.modrm >> 6) == 3) {
      src = *reg_by_index(r, (in.modrm & 7) | ((in.rex & 1) << 3));
    } else {
      uint64_t addr = TRY(modrm_address(in, r, s, 0));
      if ((in.modrm & 0xc7) == 0x05 && in.long_mode) addr += r.rip + in.len + s.cs.base;
      TRY(read_gva(mem, p, addr, &src, bits / 8));
    }
    if (bits < 64) src &= (1ull << bits) - 1;
    uint64_t result;
    r.rflags &= ~(kFlagCf | kFlagZf | 0x8d4ull);  // CF ZF and OF SF AF PF
    if (op2 == 0xb8) {
      result = static_cast<uint64_t>(__builtin_popcountll(src));
      if (src == 0) r.rflags |= kFlagZf;
      ++c.popcnt;
    } else {
      if (src == 0) {
        result = bits;
        r.rflags |= kFlagCf;
      } else {
        result = op2 == 0xbc ? static_cast<uint64_t>(__builtin_ctzll(src))
                             : static_cast<uint64_t>(__builtin_clzll(src)) - (64 - bits);
      }
      if (result == 0) r.rflags |= kFlagZf;
      ++c.bitcount;
    }
    __u64* dst = reg_by_index(r, ((in.modrm >> 3) & 7) | ((in.rex & 4) << 1));
    if (bits == 16) *dst = (*dst & ~0xffffull) | result;
    else *dst = result;  // 32-bit results zero-extend
    r.rip += in.len;
    TRY(vcpu.set_regs(r));
    return std::string(op2 == 0xb8 ? "popcnt" : op2 == 0xbc ? "tzcnt" : "lzcnt");
  }
  if (auto sse = emulate_sse(vcpu, mem, p, in, op2, fetched, r, s, c)) {
    if (!*sse) ++c.unhandled;
    return std::move(*sse);
  }
  if (op2 != 0xae && op2 != 0xc7) return unhandled();
  if (in.len >= fetched) return unhandled();
  in.modrm = in.bytes[in.len++];
  unsigned reg = (in.modrm >> 3) & 7, mod = in.modrm >> 6;
  if (op2 == 0xc7 && mod == 3 && reg == 6) {  // rdrand: report failure (CF=0), guest retries/gives up
    *reg_by_index(r, (in.modrm & 7) | ((in.rex & 1) << 3)) = 0;
    r.rflags &= ~kFlagCf;
    r.rip += in.len;
    TRY(vcpu.set_regs(r));
    ++c.rdrand;
    return std::string("rdrand -> CF=0");
  }
  if (op2 == 0xae && mod == 3 && reg >= 5) {  // lfence / mfence / sfence
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    r.rip += in.len;
    TRY(vcpu.set_regs(r));
    ++c.x87;
    return std::string("fence");
  }
  if (mod == 3) return unhandled();
  if (op2 == 0xae && (reg == 2 || reg == 3)) {  // ldmxcsr / stmxcsr m32
    uint64_t addr = TRY(modrm_address(in, r, s, 0));
    if ((in.modrm & 0xc7) == 0x05 && in.long_mode) addr += r.rip + in.len + s.cs.base;
    // MXCSR through the XSAVE image: KVM_SET_FPU's mxcsr does not reach the guest on PVM.
    kvm::XsaveArea xs = TRY(vcpu.get_xsave());
    auto* img = reinterpret_cast<uint8_t*>(xs.region);
    if (reg == 2) {
      uint32_t v;
      TRY(read_gva(mem, p, addr, &v, 4));
      if (v & 0xffff0000u) {
        TRY(inject_exception(vcpu, 13, 0));
        return std::string("ldmxcsr reserved bits -> #GP");
      }
      std::memcpy(img + 24, &v, 4);
      img[512] |= 0x2;  // XSTATE_BV: SSE state is in the image
      TRY(vcpu.set_xsave(xs));
    } else {
      TRY(write_gva(mem, p, addr, img + 24, 4));
    }
    r.rip += in.len;
    TRY(vcpu.set_regs(r));
    ++c.x87;
    return std::string(reg == 2 ? "ldmxcsr" : "stmxcsr");
  }
  size_t before_operand = in.len;
  (void)before_operand;
  uint64_t addr = TRY(modrm_address(in, r, s, 0));
  if (in.len > fetched) return unhandled();
  uint64_t next_rip = r.rip + in.len;
  if ((in.modrm & 0xc7) == 0x05 && in.long_mode) addr += next_rip + s.cs.base;  // RIP-relative

  bool rex_w = in.rex & 8;
  if (op2 == 0xc7 && reg == 1) {  // cmpxchg8b / cmpxchg16b
    std::lock_guard lock(g_atomic_emulation);
    if (rex_w) {
      uint64_t m[2];
      TRY(read_gva(mem, p, addr, m, 16));
      if (m[0] == r.rax && m[1] == r.rdx) {
        uint64_t nv[2] = {r.rbx, r.rcx};
        TRY(write_gva(mem, p, addr, nv, 16));
        r.rflags |= kFlagZf;
      } else {
        r.rax = m[0];
        r.rdx = m[1];
        r.rflags &= ~kFlagZf;
      }
      ++c.cmpxchg16b;
    } else {
      uint32_t m[2];
      TRY(read_gva(mem, p, addr, m, 8));
      if (m[0] == static_cast<uint32_t>(r.rax) && m[1] == static_cast<uint32_t>(r.rdx)) {
        uint32_t nv[2] = {static_cast<uint32_t>(r.rbx), static_cast<uint32_t>(r.rcx)};
        TRY(write_gva(mem, p, addr, nv, 8));
        r.rflags |= kFlagZf;
      } else {
        r.rax = m[0];
        r.rdx = m[1];
        r.rflags &= ~kFlagZf;
      }
    }
    r.rip = next_rip;
    TRY(vcpu.set_regs(r));
    return std::string(rex_w ? "cmpxchg16b" : "cmpxchg8b");
  }

  // The save/restore family, on the legacy (FXSAVE) region plus the XSAVE header.
  bool is_fxsave = op2 == 0xae && reg == 0, is_fxrstor = op2 == 0xae && reg == 1;
  bool is_xsave = (op2 == 0xae && (reg == 4 || reg == 6)) || (op2 == 0xc7 && (reg == 4 || reg == 5));
  bool is_xrstor = (op2 == 0xae && reg == 5) || (op2 == 0xc7 && reg == 3);
  bool compacted_save = op2 == 0xc7 && (reg == 4 || reg == 5);
  if (!is_fxsave && !is_fxrstor && !is_xsave && !is_xrstor) return unhandled();
  uint64_t rfbm = is_fxsave || is_fxrstor ? 3 : (((r.rdx << 32) | (r.rax & 0xffffffff)) & kXcr0);
  uint8_t img[576] = {};
  size_t img_len = is_fxsave || is_fxrstor ? 512 : 576;
  // KVM's XSAVE image starts with the FXSAVE layout; KVM_SET_FPU does not reliably reach the
  // guest's SSE state on PVM, so the image is the one source of truth.
  kvm::XsaveArea xs = TRY(vcpu.get_xsave());
  auto* legacy = reinterpret_cast<uint8_t*>(xs.region);
  TRY(read_gva(mem, p, addr, img, img_len));
  if (is_fxsave || is_xsave) {
    if (rfbm & 1) {
      std::memcpy(img, legacy, 24);                  // FCW..FDP
      std::memcpy(img + 32, legacy + 32, 128);       // ST0-7
    }
    if (rfbm & 3) std::memcpy(img + 24, legacy + 24, 8);  // MXCSR, MXCSR_MASK
    if (rfbm & 2) std::memcpy(img + 160, legacy + 160, 256);  // XMM0-15
    if (is_xsave) {
      uint64_t bv;
      std::memcpy(&bv, img + 512, 8);
      bv = (bv & ~rfbm) | (rfbm & 3);
      std::memcpy(img + 512, &bv, 8);
      if (compacted_save) {
        uint64_t comp = (1ull << 63) | (rfbm & 3);
        std::memcpy(img + 520, &comp, 8);
      }
      ++c.xsave;
    } else {
      ++c.fxsave;
    }
    TRY(write_gva(mem, p, addr, img, img_len));
  } else {
    uint64_t bv = 3;
    if (is_xrstor) std::memcpy(&bv, img + 512, 8);
    if (rfbm & 1) {
      if (bv & 1) {
        std::memcpy(legacy, img, 24);
        std::memcpy(legacy + 32, img + 32, 128);
      } else {  // x87 init state
        std::memset(legacy, 0, 24);
        legacy[0] = 0x7f;
        legacy[1] = 0x03;
        std::memset(legacy + 32, 0, 128);
      }
    }
    if (rfbm & 3) std::memcpy(legacy + 24, img + 24, 4);
    if (rfbm & 2) {
      if (bv & 2) std::memcpy(legacy + 160, img + 160, 256);
      else std::memset(legacy + 160, 0, 256);
    }
    legacy[512] |= static_cast<uint8_t>(rfbm & 3);  // XSTATE_BV: these components are in the image
    TRY(vcpu.set_xsave(xs));
    if (is_xrstor) ++c.xrstor;
    else ++c.fxrstor;
  }
  r.rip = next_rip;
  TRY(vcpu.set_regs(r));
  return fmt::format("{} at {:#x}", is_fxsave ? "fxsave" : is_fxrstor ? "fxrstor" : is_xsave ? "xsave" : "xrstor", addr);
}

}  // namespace vessel::vmm::x86
