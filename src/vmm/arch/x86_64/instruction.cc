#include "vmm/arch/x86_64/instruction.h"

#include <cstring>

#include "fmt/format.h"

namespace vessel::vmm::x86 {

__u64* reg_by_index(kvm_regs& r, unsigned i) {
  switch (i) {
    case 0: return &r.rax;
    case 1: return &r.rcx;
    case 2: return &r.rdx;
    case 3: return &r.rbx;
    case 4: return &r.rsp;
    case 5: return &r.rbp;
    case 6: return &r.rsi;
    case 7: return &r.rdi;
    case 8: return &r.r8;
    case 9: return &r.r9;
    case 10: return &r.r10;
    case 11: return &r.r11;
    case 12: return &r.r12;
    case 13: return &r.r13;
    case 14: return &r.r14;
    default: return &r.r15;
  }
}

std::string hex_bytes(const uint8_t* b, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += fmt::format("{}{:02x}", i ? " " : "", b[i]);
  return s;
}

// Effective address of the ModRM memory operand (insn.len points just after the ModRM byte).
Result<uint64_t> modrm_address(Insn& in, kvm_regs& r, const kvm_sregs& s, uint64_t next_rip_base) {
  // Displacements are read from the fetched bytes: a hostile encoding must not run past them.
  auto take_disp32 = [&](int32_t& disp) -> Result<void> {
    if (in.len + 4 > sizeof in.bytes) return fail(EINVAL, "instruction longer than 15 bytes");
    std::memcpy(&disp, in.bytes + in.len, 4);
    in.len += 4;
    return {};
  };
  unsigned mod = in.modrm >> 6, rm = in.modrm & 7;
  if (mod == 3) return fail(EINVAL, "register operand where memory was expected");
  uint64_t addr = 0;
  bool rip_relative = false;
  if (rm == 4) {  // SIB
    if (in.len >= sizeof in.bytes) return fail(EINVAL, "instruction too long");
    uint8_t sib = in.bytes[in.len++];
    unsigned scale = sib >> 6, index = ((sib >> 3) & 7) | ((in.rex & 2) << 2), base = (sib & 7) | ((in.rex & 1) << 3);
    if (index != 4) addr += *reg_by_index(r, index) << scale;
    if ((base & 7) == 5 && mod == 0) {
      int32_t disp;
      TRY(take_disp32(disp));
      addr += static_cast<int64_t>(disp);
    } else {
      addr += *reg_by_index(r, base);
    }
  } else if (rm == 5 && mod == 0) {
    int32_t disp;
    TRY(take_disp32(disp));
    addr = static_cast<int64_t>(disp);
    rip_relative = in.long_mode;
  } else {
    addr = *reg_by_index(r, rm | ((in.rex & 1) << 3));
  }
  if (mod == 1) {
    if (in.len >= sizeof in.bytes) return fail(EINVAL, "instruction longer than 15 bytes");
    addr += static_cast<int8_t>(in.bytes[in.len++]);
  } else if (mod == 2) {
    int32_t disp;
    TRY(take_disp32(disp));
    addr += static_cast<int64_t>(disp);
  }
  if (rip_relative) addr += next_rip_base;  // fixed up by the caller once the length is known
  if (!in.long_mode || in.addrsize) addr &= 0xffffffffull;
  if (in.segment == 4) addr += s.fs.base;
  if (in.segment == 5) addr += s.gs.base;
  return addr;
}

}  // namespace vessel::vmm::x86
