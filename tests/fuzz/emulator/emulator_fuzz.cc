// Fuzz target: the PVM instruction emulator and the guest page walk under it, as a hostile guest
// kernel reaches them: the vCPU's registers, its paging mode and tables, its descriptor tables and
// the instruction bytes all come from the input, and emulate_failed_instruction runs once.
// Input: a 176-byte header (mode byte, CR3, RIP, GDT/IDT/TR/LDT, the 16 general registers), then
// chunks of guest memory (gpa u32, length u16, bytes) in a 4 MiB guest.
// Checked: no crash or sanitizer report; a refused instruction leaves RIP where it was; an emulated
// one is counted at most once in its family.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fake_vcpu_state.h"
#include "vmm/arch/x86_64/emulate.h"

using namespace vessel;
using namespace vessel::vmm;
using namespace vessel::vmm::x86;

namespace {

constexpr size_t kGuestBytes = 4 << 20;
constexpr size_t kHeader = 176;

void fuzz_check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "emulator_fuzz: %s\n", what);
  std::abort();
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  template <typename T>
  T take() {
    T v{};
    size_t n = std::min<size_t>(sizeof v, static_cast<size_t>(end_ - p_));
    std::memcpy(&v, p_, n);
    p_ += n;
    return v;
  }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  const uint8_t* here() const { return p_; }
  void skip(size_t n) { p_ += std::min(n, left()); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Mode byte: bit 0 paging, 1 PAE, 2 long mode, 3 LA57, 4 CS.L, 5 OSFXSR, bits 6-7 CPL.
void set_mode(FakeVcpu& cpu, uint8_t mode) {
  cpu.sregs.cr0 = 0x11 | ((mode & 1) ? 0x80000000u : 0);
  cpu.sregs.cr4 = ((mode & 2) ? 0x20 : 0) | ((mode & 8) ? 0x1000 : 0) | ((mode & 32) ? 0x200 : 0);
  cpu.sregs.efer = (mode & 4) ? 0x500 : 0;
  cpu.sregs.cs.l = (mode >> 4) & 1;
  cpu.sregs.cs.selector = 0x10 | (mode >> 6);
}

void set_registers(FakeVcpu& cpu, Reader& in) {
  set_mode(cpu, in.take<uint8_t>());
  cpu.sregs.cr3 = in.take<uint64_t>();
  cpu.regs.rip = in.take<uint64_t>();
  cpu.sregs.gdt.base = in.take<uint64_t>();
  cpu.sregs.gdt.limit = in.take<uint16_t>();
  cpu.sregs.idt.base = in.take<uint64_t>();
  cpu.sregs.idt.limit = in.take<uint16_t>();
  cpu.sregs.tr.base = in.take<uint64_t>();
  cpu.sregs.ldt.base = in.take<uint64_t>();
  cpu.sregs.ldt.limit = in.take<uint16_t>();
  cpu.regs.rflags = in.take<uint64_t>() | 2;
  __u64* gprs[] = {&cpu.regs.rax, &cpu.regs.rcx, &cpu.regs.rdx, &cpu.regs.rbx, &cpu.regs.rsp, &cpu.regs.rbp,
                   &cpu.regs.rsi, &cpu.regs.rdi, &cpu.regs.r8,  &cpu.regs.r9,  &cpu.regs.r10, &cpu.regs.r11,
                   &cpu.regs.r12, &cpu.regs.r13};
  for (__u64* r : gprs) *r = in.take<uint64_t>();
}

uint64_t emulated_total(const EmulationCounters& c) {
  return c.int3 + c.int_n + c.ud2 + c.fxsave + c.fxrstor + c.xsave + c.xrstor + c.cmpxchg16b + c.stac_clac +
         c.xgetbv + c.xsetbv + c.rdrand + c.popcnt + c.bitcount + c.x87 + c.sse + c.lar_lsl;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeader) return 0;
  Reader in(data, size);
  FakeVcpu cpu;
  set_registers(cpu, in);
  in.skip(kHeader - (in.here() - data));
  auto memory = GuestMemory::create(kGuestBytes);
  fuzz_check(memory.has_value(), "no guest memory");
  while (in.left() >= 6) {
    uint32_t gpa = in.take<uint32_t>() % kGuestBytes;
    size_t len = std::min<size_t>({in.take<uint16_t>(), in.left(), kGuestBytes - gpa});
    fuzz_check(memory->write(gpa, in.here(), len).has_value(), "guest memory write");
    in.skip(len);
  }
  EmulationCounters counters;
  uint64_t rip = cpu.regs.rip;
  auto r = emulate_failed_instruction(cpu, *memory, counters);
  if (!r) {
    fuzz_check(cpu.regs.rip == rip, "a refused instruction moved RIP");
    fuzz_check(emulated_total(counters) == 0, "a refused instruction was counted as emulated");
  } else {
    // An instruction emulated is counted once in its family; a fault delivered instead of it
    // (xsetbv's #GP, SSE's #UD/#NM, ...) is not counted there.
    fuzz_check(emulated_total(counters) <= 1, "an emulated instruction was counted twice");
  }
  return 0;
}
