// cmpxchg8b/16b and the FXSAVE/XSAVE save/restore family, on the legacy (FXSAVE) region plus the
// XSAVE header of KVM's XSAVE image.
#include <cstring>
#include <mutex>

#include "vmm/arch/x86_64/emulation.h"

namespace vessel::vmm::x86 {
namespace {

// Serialises emulated read-modify-write instructions (cmpxchg16b) between vCPUs.
std::mutex g_atomic_emulation;

template <typename Half>
Result<void> compare_exchange(Emulation& e, uint64_t addr) {
  kvm_regs& r = e.r;
  Half m[2];
  TRY(read_gva(e.mem, e.paging, addr, m, sizeof m));
  if (m[0] == static_cast<Half>(r.rax) && m[1] == static_cast<Half>(r.rdx)) {
    Half nv[2] = {static_cast<Half>(r.rbx), static_cast<Half>(r.rcx)};
    TRY(write_gva(e.mem, e.paging, addr, nv, sizeof nv));
    r.rflags |= kFlagZf;
  } else {
    r.rax = m[0];
    r.rdx = m[1];
    r.rflags &= ~kFlagZf;
  }
  return {};
}

Result<std::string> emulate_cmpxchg(Emulation& e, uint64_t addr) {  // cmpxchg8b / cmpxchg16b
  bool rex_w = e.in.rex & 8;
  std::lock_guard lock(g_atomic_emulation);
  if (rex_w) TRY(compare_exchange<uint64_t>(e, addr));
  else TRY(compare_exchange<uint32_t>(e, addr));
  TRY(e.retire());
  ++e.counters.cmpxchg16b;  // both widths (cmpxchg8b went uncounted until emulator_fuzz saw it)
  return std::string(rex_w ? "cmpxchg16b" : "cmpxchg8b");
}

// FXSAVE/XSAVE: the requested components of the vCPU's image into the guest's area `img`.
void save_components(uint8_t* img, const uint8_t* legacy, uint64_t rfbm, bool xsave, bool compacted) {
  if (rfbm & 1) {
    std::memcpy(img, legacy, 24);             // FCW..FDP
    std::memcpy(img + 32, legacy + 32, 128);  // ST0-7
  }
  if (rfbm & 3) std::memcpy(img + 24, legacy + 24, 8);      // MXCSR, MXCSR_MASK
  if (rfbm & 2) std::memcpy(img + 160, legacy + 160, 256);  // XMM0-15
  if (!xsave) return;
  uint64_t bv;
  std::memcpy(&bv, img + 512, 8);
  bv = (bv & ~rfbm) | (rfbm & 3);
  std::memcpy(img + 512, &bv, 8);
  if (compacted) {
    uint64_t comp = (1ull << 63) | (rfbm & 3);
    std::memcpy(img + 520, &comp, 8);
  }
}

// FXRSTOR/XRSTOR: the requested components from the guest's area `img`; those XSTATE_BV marks as
// absent get their init state.
void restore_components(uint8_t* legacy, const uint8_t* img, uint64_t rfbm, bool xrstor) {
  uint64_t bv = 3;
  if (xrstor) std::memcpy(&bv, img + 512, 8);
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
}

}  // namespace

Result<std::string> emulate_xsave_family(Emulation& e, uint8_t op2, uint64_t addr) {
  unsigned reg = (e.in.modrm >> 3) & 7;
  if (op2 == 0xc7 && reg == 1) return emulate_cmpxchg(e, addr);
  bool is_fxsave = op2 == 0xae && reg == 0, is_fxrstor = op2 == 0xae && reg == 1;
  bool is_xsave = (op2 == 0xae && (reg == 4 || reg == 6)) || (op2 == 0xc7 && (reg == 4 || reg == 5));
  bool is_xrstor = (op2 == 0xae && reg == 5) || (op2 == 0xc7 && reg == 3);
  if (!is_fxsave && !is_fxrstor && !is_xsave && !is_xrstor) return e.unhandled();
  uint64_t rfbm = is_fxsave || is_fxrstor ? 3 : (((e.r.rdx << 32) | (e.r.rax & 0xffffffff)) & kXcr0);
  uint8_t img[576] = {};
  size_t img_len = is_fxsave || is_fxrstor ? 512 : 576;
  // KVM's XSAVE image starts with the FXSAVE layout; KVM_SET_FPU does not reliably reach the
  // guest's SSE state on PVM, so the image is the one source of truth.
  kvm::XsaveArea xs = TRY(e.cpu.get_xsave());
  auto* legacy = reinterpret_cast<uint8_t*>(xs.region);
  TRY(read_gva(e.mem, e.paging, addr, img, img_len));
  if (is_fxsave || is_xsave) {
    save_components(img, legacy, rfbm, is_xsave, op2 == 0xc7 && (reg == 4 || reg == 5));
    ++(is_xsave ? e.counters.xsave : e.counters.fxsave);
    TRY(write_gva(e.mem, e.paging, addr, img, img_len));
  } else {
    restore_components(legacy, img, rfbm, is_xrstor);
    TRY(e.cpu.set_xsave(xs));
    ++(is_xrstor ? e.counters.xrstor : e.counters.fxrstor);
  }
  TRY(e.retire());
  return fmt::format("{} at {:#x}", is_fxsave ? "fxsave" : is_fxrstor ? "fxrstor" : is_xsave ? "xsave" : "xrstor", addr);
}

}  // namespace vessel::vmm::x86
