// SSE register moves and the xor/and/or idioms, for when KVM's emulator gives up on them in an
// emulated guest kernel (seen: `movd %ecx,%xmm15`). XMM registers live in the vCPU's XSAVE image
// (the legacy region at offset 160), the one source of truth on PVM (docs/vmm/pvm.md).
#include <cstring>

#include "vmm/arch/x86_64/emulation.h"

namespace vessel::vmm::x86 {
namespace {

enum class Kind { Load, Store, Logic };
enum class Width { D32, Q64, X128, Gpr };  // Gpr: 32 or 64 bits by REX.W (movd/movq with a GPR)

struct SseOp {
  Kind kind;
  Width width;
  bool aligned;        // #GP on a misaligned memory operand
  bool zero_upper;     // a load from memory (or movq) clears the rest of the register
  const char* name;
};

// Mandatory prefix: 0 none, 0x66, 0xf3, 0xf2.
std::optional<SseOp> classify(uint8_t prefix, uint8_t op2) {
  switch (op2) {
    case 0x10:
    case 0x11: {
      Kind k = op2 == 0x10 ? Kind::Load : Kind::Store;
      if (prefix == 0xf3) return SseOp{k, Width::D32, false, true, op2 == 0x10 ? "movss" : "movss store"};
      if (prefix == 0xf2) return SseOp{k, Width::Q64, false, true, op2 == 0x10 ? "movsd" : "movsd store"};
      return SseOp{k, Width::X128, false, false, prefix == 0x66 ? "movupd" : "movups"};
    }
    case 0x28:
    case 0x29:
      if (prefix == 0xf3 || prefix == 0xf2) return std::nullopt;
      return SseOp{op2 == 0x28 ? Kind::Load : Kind::Store, Width::X128, true, false, prefix == 0x66 ? "movapd" : "movaps"};
    case 0x2b:
      if (prefix == 0xf3 || prefix == 0xf2) return std::nullopt;
      return SseOp{Kind::Store, Width::X128, true, false, "movntps"};
    case 0xe7:
      if (prefix != 0x66) return std::nullopt;
      return SseOp{Kind::Store, Width::X128, true, false, "movntdq"};
    case 0x6f:
    case 0x7f:
      if (prefix != 0x66 && prefix != 0xf3) return std::nullopt;
      return SseOp{op2 == 0x6f ? Kind::Load : Kind::Store, Width::X128, prefix == 0x66, false,
                   prefix == 0x66 ? "movdqa" : "movdqu"};
    case 0x6e:
      if (prefix != 0x66) return std::nullopt;
      return SseOp{Kind::Load, Width::Gpr, false, true, "movd/movq to xmm"};
    case 0x7e:
      if (prefix == 0xf3) return SseOp{Kind::Load, Width::Q64, false, true, "movq to xmm"};
      if (prefix == 0x66) return SseOp{Kind::Store, Width::Gpr, false, true, "movd/movq from xmm"};
      return std::nullopt;
    case 0xd6:
      if (prefix != 0x66) return std::nullopt;
      return SseOp{Kind::Store, Width::Q64, false, true, "movq store"};
    case 0xef:  // pxor
    case 0xdb:  // pand
    case 0xeb:  // por
      if (prefix != 0x66) return std::nullopt;
      return SseOp{Kind::Logic, Width::X128, true, false, op2 == 0xef ? "pxor" : op2 == 0xdb ? "pand" : "por"};
    case 0x57:  // xorps / xorpd
    case 0x54:  // andps / andpd
    case 0x56:  // orps / orpd
      if (prefix == 0xf3 || prefix == 0xf2) return std::nullopt;
      return SseOp{Kind::Logic, Width::X128, true, false, op2 == 0x57 ? "xorps" : op2 == 0x54 ? "andps" : "orps"};
    default:
      return std::nullopt;
  }
}

size_t byte_width(Width w, bool rex_w) {
  switch (w) {
    case Width::D32: return 4;
    case Width::Q64: return 8;
    case Width::X128: return 16;
    case Width::Gpr: return rex_w ? 8 : 4;
  }
  return 16;
}

// The decoded operands of one SSE instruction.
struct Operands {
  const SseOp& op;
  uint8_t op2;
  unsigned xmm, rm;   // ModRM reg (always an XMM register) and r/m register numbers
  bool reg_operand;   // r/m names a register (else memory at addr)
  uint64_t addr;
  size_t n;           // bytes moved
};

// Stores: XMM to memory, to a GPR, or to another XMM. Returns whether an XMM register changed.
Result<bool> store(Emulation& e, const Operands& o, uint8_t* img) {
  const uint8_t* src = img + 160 + 16 * o.xmm;
  if (!o.reg_operand) {
    TRY(write_gva(e.mem, e.paging, o.addr, src, o.n));
    return false;
  }
  if (o.op.width == Width::Gpr) {
    uint64_t v = 0;
    std::memcpy(&v, src, o.n);
    *reg_by_index(e.r, o.rm) = v;  // 32-bit results zero-extend
    return false;
  }
  uint8_t* dst = img + 160 + 16 * o.rm;
  std::memmove(dst, src, o.n);
  if (o.op.zero_upper && o.op.width == Width::Q64) std::memset(dst + 8, 0, 8);
  return true;
}

// Loads and the logic idioms: the source operand into (or combined with) the XMM register.
Result<void> load(Emulation& e, const Operands& o, uint8_t* img) {
  uint8_t value[16] = {};
  if (!o.reg_operand) {
    TRY(read_gva(e.mem, e.paging, o.addr, value, o.n));
  } else if (o.op.width == Width::Gpr) {
    uint64_t v = *reg_by_index(e.r, o.rm);
    std::memcpy(value, &v, o.n);
  } else {
    std::memcpy(value, img + 160 + 16 * o.rm, 16);
  }
  uint8_t* dst = img + 160 + 16 * o.xmm;
  if (o.op.kind == Kind::Logic) {
    for (size_t i = 0; i < 16; ++i) {
      if (o.op2 == 0xef || o.op2 == 0x57) dst[i] ^= value[i];
      else if (o.op2 == 0xdb || o.op2 == 0x54) dst[i] &= value[i];
      else dst[i] |= value[i];
    }
  } else if (o.reg_operand && !o.op.zero_upper) {
    std::memcpy(dst, value, o.n);  // register to register: full width
  } else if (o.reg_operand && (o.op.width == Width::D32 || (o.op.width == Width::Q64 && o.op2 == 0x10))) {
    std::memcpy(dst, value, o.n);  // movss/movsd xmm, xmm merge into the low element
  } else {
    std::memset(dst, 0, 16);  // loads from memory or GPRs (and movq) zero the rest
    std::memcpy(dst, value, o.n);
  }
  return {};
}

Result<std::string> execute(Emulation& e, const SseOp& op, uint8_t op2) {
  Insn& in = e.in;
  // As the CPU does: #UD when the OS has not enabled SSE (CR0.EM set or CR4.OSFXSR clear),
  // #NM when CR0.TS is set (lazy FPU switching).
  if ((e.s.cr0 & (1u << 2)) || !(e.s.cr4 & (1u << 9))) {
    TRY(e.inject(6));
    return fmt::format("{} without OSFXSR -> #UD", op.name);
  }
  if (e.s.cr0 & (1u << 3)) {
    TRY(e.inject(7));
    return fmt::format("{} with CR0.TS -> #NM", op.name);
  }
  in.modrm = e.next_byte();
  Operands o{op,
             op2,
             static_cast<unsigned>(((in.modrm >> 3) & 7) | ((in.rex & 4) << 1)),
             static_cast<unsigned>((in.modrm & 7) | ((in.rex & 1) << 3)),
             (in.modrm >> 6) == 3,
             0,
             byte_width(op.width, in.rex & 8)};
  if (!o.reg_operand) o.addr = TRY(e.memory_operand());
  if (in.len > e.fetched) return fail(EINVAL, "truncated SSE instruction: {}", hex_bytes(in.bytes, e.fetched));
  if (!o.reg_operand && op.aligned && (o.addr & 15)) {
    TRY(e.inject(13, 0));
    return fmt::format("{} misaligned -> #GP", op.name);
  }
  kvm::XsaveArea xs = TRY(e.cpu.get_xsave());
  auto* img = reinterpret_cast<uint8_t*>(xs.region);
  bool changed_xmm = true;
  if (op.kind == Kind::Store) changed_xmm = TRY(store(e, o, img));
  else TRY(load(e, o, img));
  if (changed_xmm) {
    img[512] |= 0x2;  // XSTATE_BV: the SSE state is in the image
    TRY(e.cpu.set_xsave(xs));
  }
  TRY(e.retire());
  ++e.counters.sse;
  return fmt::format("{} xmm{}", op.name, o.xmm);
}

}  // namespace

std::optional<Result<std::string>> emulate_sse(Emulation& e, uint8_t op2) {
  // The last of 66/f3/f2 is the mandatory prefix (f3/f2 win over 66 as on hardware).
  uint8_t prefix = e.in.rep ? 0xf3 : e.in.repne ? 0xf2 : e.in.opsize ? 0x66 : 0;
  auto op = classify(prefix, op2);
  if (!op || e.in.len >= e.fetched) return std::nullopt;
  return execute(e, *op, op2);
}

}  // namespace vessel::vmm::x86
