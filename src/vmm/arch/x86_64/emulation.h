// One instruction being emulated (emulate.h): the vCPU state read at the exit, the decoded
// prefixes and ModRM so far, and the helpers every instruction family's handler uses. The
// decoder (emulate.cc) fills it and hands it to one handler per family:
//   emulate_control.cc  int3, INT n, ud2, fwait, x87 control, clac/stac, xgetbv/xsetbv, rdrand,
//                       fences, ldmxcsr/stmxcsr, popcnt/tzcnt/lzcnt
//   emulate_xsave.cc    cmpxchg8b/16b and the FXSAVE/XSAVE save/restore family
//   emulate_sse.cc      SSE register moves and the xor/and/or idioms
//   emulate_segment.cc  lar/lsl (descriptor-table queries)
#pragma once

#include <optional>
#include <string>

#include "vmm/arch/x86_64/emulate.h"
#include "vmm/arch/x86_64/guest_walk.h"
#include "vmm/arch/x86_64/instruction.h"
#include "vmm/arch/x86_64/vcpu_state.h"

namespace vessel::vmm::x86 {

inline constexpr uint64_t kFlagCf = 1, kFlagZf = 1 << 6, kFlagTf = 1 << 8, kFlagIf = 1 << 9, kFlagAc = 1 << 18;
inline constexpr uint64_t kXcr0 = 0x3;  // what the guest sees: x87 | SSE (XSAVE is masked on PVM)

struct Emulation {
  VcpuState& cpu;
  const GuestMemory& mem;
  EmulationCounters& counters;
  kvm_regs r{};
  kvm_sregs s{};
  PagingState paging;
  Insn in;
  size_t fetched = 0;  // instruction bytes fetched from the guest
  uint64_t start_rip = 0;

  // The next instruction byte (zero padding past the fetched bytes: see Insn).
  uint8_t next_byte() { return in.bytes[in.len++]; }
  // Linear address of the ModRM memory operand (in.modrm read; RIP-relative operands included).
  Result<uint64_t> memory_operand();
  // Moves RIP past the instruction and writes the registers back.
  Result<void> retire();
  // Delivers an exception to the guest at the current RIP.
  Result<void> inject(uint8_t vector, std::optional<uint32_t> error_code = {});
  // Counts the instruction as unhandled and describes it.
  Result<std::string> unhandled();
};

// Family handlers. On entry in.len points after the opcode byte(s) named in the comment.
Result<std::string> emulate_int3(Emulation& e);                   // cc
Result<std::string> emulate_int_n(Emulation& e);                  // cd
Result<std::string> emulate_fwait(Emulation& e);                  // 9b
Result<std::string> emulate_x87_control(Emulation& e, uint8_t op);  // d8..df
Result<std::string> emulate_ud2(Emulation& e);                    // 0f 0b
Result<std::string> emulate_0f01(Emulation& e);                   // 0f 01: clac/stac/xgetbv/xsetbv
Result<std::string> emulate_bitcount(Emulation& e, uint8_t op2);  // f3 0f b8/bc/bd
Result<std::string> emulate_lar_lsl(Emulation& e, uint8_t op2);   // 0f 02 / 0f 03
// 0f ae / 0f c7 with in.modrm read: rdrand, fences, ldmxcsr/stmxcsr, then emulate_xsave_family.
Result<std::string> emulate_group_ae_c7(Emulation& e, uint8_t op2);
// 0f c7 /1 and the 0f ae / 0f c7 save/restore forms, memory operand at `addr`.
Result<std::string> emulate_xsave_family(Emulation& e, uint8_t op2, uint64_t addr);
// 0f xx: nullopt when the instruction is not one of the SSE moves (sse.cc).
std::optional<Result<std::string>> emulate_sse(Emulation& e, uint8_t op2);

}  // namespace vessel::vmm::x86
