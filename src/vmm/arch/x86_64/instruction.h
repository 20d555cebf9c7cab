// A decoded x86 instruction as far as the PVM emulator needs it (prefixes, REX, ModRM) and the
// operand helpers shared by the emulators in this folder.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string>

#include "base/error.h"

namespace vessel::vmm::x86 {

constexpr size_t kMaxInsnLength = 15;

struct Insn {
  // Up to 15 fetched bytes plus zero padding, so decoding a hostile encoding never reads past the
  // array; callers compare `len` with the fetched count before acting.
  uint8_t bytes[kMaxInsnLength + 8] = {};
  size_t len = 0;   // bytes consumed so far
  bool long_mode = false;
  bool opsize = false, addrsize = false;
  uint8_t rex = 0;
  int segment = -1;  // 4 = fs, 5 = gs
  bool rep = false, repne = false;
  uint8_t modrm = 0;
};

// The general-purpose register a ModRM/REX register number names.
__u64* reg_by_index(kvm_regs& r, unsigned i);
std::string hex_bytes(const uint8_t* b, size_t n);
// Effective address of the ModRM memory operand (in.len points just after the ModRM byte; on
// return it points after the SIB/displacement). RIP-relative operands get `next_rip_base` added:
// pass 0 and fix up with the final length (see rip_relative()).
Result<uint64_t> modrm_address(Insn& in, kvm_regs& r, const kvm_sregs& s, uint64_t next_rip_base);
// True when the ModRM operand is RIP-relative (64-bit mode, mod 00 rm 101).
inline bool rip_relative(const Insn& in) { return in.long_mode && (in.modrm & 0xc7) == 0x05; }

}  // namespace vessel::vmm::x86
