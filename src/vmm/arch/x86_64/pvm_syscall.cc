#include "vmm/arch/x86_64/pvm_syscall.h"

#include <cstring>

#include "fmt/format.h"
#include "vmm/arch/x86_64/guest_walk.h"

namespace vessel::vmm::x86 {
namespace {

constexpr uint32_t kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082, kMsrFmask = 0xc0000084;
constexpr uint64_t kFlagRf = 1ull << 16;

// Linux and the test kit put the IDT's #PF gate in place once; re-check now and then anyway.
constexpr uint64_t kRecheckEvery = 4096;

kvm_segment flat_segment(uint16_t selector, bool code) {
  kvm_segment s{};
  s.selector = selector;
  s.base = 0;
  s.limit = 0xffffffff;
  s.type = code ? 0xb : 0x3;
  s.present = 1;
  s.dpl = 0;
  s.s = 1;
  s.l = code ? 1 : 0;
  s.db = code ? 0 : 1;
  s.g = 1;
  return s;
}

}  // namespace

Result<void> PvmSyscallRepair::set_breakpoint(kvm::Vcpu& vcpu, bool single_step) {
  kvm_guest_debug dbg{};
  dbg.control = KVM_GUESTDBG_ENABLE;
  if (single_step) {
    dbg.control |= KVM_GUESTDBG_SINGLESTEP;
  } else {
    dbg.control |= KVM_GUESTDBG_USE_HW_BP;
    dbg.arch.debugreg[0] = handler_;
    dbg.arch.debugreg[7] = 0x1;  // L0, execute breakpoint (R/W0 = 00, LEN0 = 00)
  }
  return vcpu.set_guest_debug(dbg);
}

Result<void> PvmSyscallRepair::maybe_arm(kvm::Vcpu& vcpu, const GuestMemory& memory) {
  if (stepping_) return {};
  if (handler_ != 0 && ++calls_ % kRecheckEvery != 0) return {};
  kvm_sregs s = TRY(vcpu.get_sregs());
  // Only a 64-bit guest with an IDT large enough for vector 14 has a handler to watch.
  if (!(s.efer & (1u << 10)) || s.idt.limit < 14 * 16 + 15) return {};
  uint8_t gate[16];
  if (!read_gva(memory, PagingState::from(s), s.idt.base + 14 * 16, gate, sizeof gate)) return {};
  if (!(gate[5] & 0x80)) return {};
  uint64_t target = gate[0] | (uint64_t{gate[1]} << 8) | (uint64_t{gate[6]} << 16) | (uint64_t{gate[7]} << 24);
  uint32_t high;
  std::memcpy(&high, gate + 8, 4);
  target |= uint64_t{high} << 32;
  if (target == handler_) return {};
  handler_ = target;
  ++counters_.arms;
  return set_breakpoint(vcpu, false);
}

Result<std::string> PvmSyscallRepair::on_debug_exit(kvm::Vcpu& vcpu, const GuestMemory& memory) {
  kvm_regs r = TRY(vcpu.get_regs());
  if (stepping_) {  // one instruction past the handler's entry: watch the entry again
    stepping_ = false;
    TRY(set_breakpoint(vcpu, false));
    return std::string("re-armed after a page fault");
  }
  if (handler_ == 0 || r.rip != handler_)
    return fail(EINVAL, "debug exit at rip {:#x}, not the page-fault handler we watch", r.rip);
  kvm_sregs s = TRY(vcpu.get_sregs());
  // The 64-bit exception frame: error code, RIP, CS, RFLAGS, RSP, SS.
  uint64_t frame[6];
  TRY_CTX(read_gva(memory, PagingState::from(s), r.rsp, frame, sizeof frame), "read the page-fault frame");
  auto msrs = TRY(vcpu.get_msrs({kMsrStar, kMsrLstar, kMsrFmask}));
  if (msrs.size() != 3) return fail(EIO, "KVM_GET_MSRS returned {} of 3 MSRs", msrs.size());
  uint64_t star = msrs[0].data, lstar = msrs[1].data, fmask = msrs[2].data;
  if ((frame[2] & 3) == 3 && frame[1] == lstar) {
    // The half-done SYSCALL: RCX (return address) and R11 (user RFLAGS) are already right.
    uint16_t kernel_cs = static_cast<uint16_t>((star >> 32) & 0xfffc);
    r.rip = lstar;
    r.rsp = frame[4];
    r.rflags = (r.r11 & ~fmask & ~kFlagRf) | 0x2;
    s.cs = flat_segment(kernel_cs, true);
    s.ss = flat_segment(static_cast<uint16_t>(kernel_cs + 8), false);
    TRY(vcpu.set_sregs(s));
    TRY(vcpu.set_regs(r));
    ++counters_.syscalls;
    return std::string("syscall completed into ring 0");
  }
  // A genuine page fault: let the handler's first instruction run without re-hitting the
  // breakpoint (single-step over it, then re-arm).
  ++counters_.page_faults;
  stepping_ = true;
  TRY(set_breakpoint(vcpu, true));
  return std::string("page fault passed through");
}

}  // namespace vessel::vmm::x86
