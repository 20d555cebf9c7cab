// The PVM instruction emulator without KVM: a fake vCPU register file, guest memory with an
// identity-mapped long-mode address space, one test per instruction family (emulation.h).
#include "vmm/arch/x86_64/emulate.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fake_vcpu_state.h"

namespace vessel::vmm::x86 {
namespace {

constexpr uint64_t kCode = 0x10000, kData = 0x20000;

class Emulate : public ::testing::Test {
 protected:
  void SetUp() override {
    // 64-bit kernel mode; the first 2 MiB identity-mapped (PML4 0x1000, PDPT 0x2000, PD 0x3000).
    ASSERT_TRUE(mem.write_obj<uint64_t>(0x1000, 0x2000 | 3));
    ASSERT_TRUE(mem.write_obj<uint64_t>(0x2000, 0x3000 | 3));
    ASSERT_TRUE(mem.write_obj<uint64_t>(0x3000, 0x0 | 0x83));
    cpu.sregs.cr0 = 0x80000011;
    cpu.sregs.cr3 = 0x1000;
    cpu.sregs.cr4 = 0x20 | 0x200;  // PAE, OSFXSR
    cpu.sregs.efer = 0x500;
    cpu.sregs.cs.l = 1;
    cpu.sregs.cs.selector = 0x10;
    cpu.regs.rip = kCode;
    cpu.regs.rflags = 0x2;
  }
  // Places `code` at RIP and emulates it.
  Result<std::string> run(std::vector<uint8_t> code) {
    EXPECT_TRUE(mem.write(kCode, code.data(), code.size()));
    return emulate_failed_instruction(cpu, mem, counters);
  }
  template <typename T>
  T read(uint64_t addr) {
    return mem.read_obj<T>(addr).value();
  }

  GuestMemory mem = GuestMemory::create(4 << 20).value();
  FakeVcpu cpu;
  EmulationCounters counters;
};

TEST_F(Emulate, Int3TrapsWithRipPastIt) {
  ASSERT_EQ(run({0xcc}).value(), "int3 -> #BP");
  EXPECT_EQ(cpu.regs.rip, kCode + 1);
  EXPECT_EQ(cpu.events.exception.nr, 3);
  EXPECT_TRUE(cpu.events.exception.injected);
  EXPECT_EQ(counters.int3, 1u);
}

TEST_F(Emulate, IntNBelow32IsAnExceptionAbove32GoesThroughTheIdt) {
  ASSERT_TRUE(run({0xcd, 0x04}));
  EXPECT_EQ(cpu.events.exception.nr, 4);
  EXPECT_EQ(cpu.regs.rip, kCode + 2);

  // IDT at 0x5000: gate 0x80, interrupt gate to 0x123456789a, same selector; stack at 0x8000.
  cpu.regs.rip = kCode;
  cpu.regs.rsp = 0x8008;
  cpu.regs.rflags = 0x202;
  cpu.sregs.idt.base = 0x5000;
  cpu.sregs.idt.limit = 0xfff;
  cpu.sregs.ss.selector = 0x18;
  uint8_t gate[16] = {0x9a, 0x78, 0x10, 0x00, 0, 0x8e, 0x56, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_TRUE(mem.write(0x5000 + 0x80 * 16, gate, 16));
  ASSERT_EQ(run({0xcd, 0x80}).value(), "int 0x80");
  EXPECT_EQ(cpu.regs.rip, 0x123456789aull);
  EXPECT_EQ(cpu.regs.rsp, 0x8000u - 40);
  EXPECT_EQ(cpu.regs.rflags & (1u << 9), 0u);
  EXPECT_EQ(read<uint64_t>(0x8000 - 40), kCode + 2);   // return RIP
  EXPECT_EQ(read<uint64_t>(0x8000 - 32), 0x10u);       // CS
  EXPECT_EQ(read<uint64_t>(0x8000 - 16), 0x8008u);     // old RSP
  EXPECT_EQ(cpu.sregs_sets, 0) << "same selector: CS untouched";
  EXPECT_EQ(counters.int_n, 2u);
}

TEST_F(Emulate, X87ControlInstructions) {
  cpu.fpu.fcw = 0x1234;
  cpu.fpu.fsw = 0x80ff;
  ASSERT_TRUE(run({0x9b}));  // fwait
  EXPECT_EQ(cpu.regs.rip, kCode + 1);
  cpu.regs.rip = kCode;
  cpu.regs.rax = 0xffff'ffff'ffff'0000ull;
  ASSERT_TRUE(run({0xdf, 0xe0}));  // fnstsw ax
  EXPECT_EQ(cpu.regs.rax, 0xffff'ffff'ffff'80ffull);
  cpu.regs.rip = kCode;
  ASSERT_TRUE(run({0xdb, 0xe2}));  // fnclex
  EXPECT_EQ(cpu.fpu.fsw, 0x0000);
  cpu.regs.rip = kCode;
  ASSERT_TRUE(run({0xdb, 0xe3}));  // fninit
  EXPECT_EQ(cpu.fpu.fcw, 0x37f);
  EXPECT_EQ(counters.x87, 4u);
}

TEST_F(Emulate, FldcwAndFnstcwWithARipRelativeOperand) {
  // fldcw [rip+0x1000]: the operand is relative to the end of the 6-byte instruction.
  uint64_t operand = kCode + 6 + 0x1000;
  ASSERT_TRUE(mem.write_obj<uint16_t>(operand, 0x027f));
  ASSERT_TRUE(run({0xd9, 0x2d, 0x00, 0x10, 0x00, 0x00}));
  EXPECT_EQ(cpu.fpu.fcw, 0x027f);
  EXPECT_EQ(cpu.regs.rip, kCode + 6);
  // fnstcw [rax]
  cpu.regs.rip = kCode;
  cpu.regs.rax = kData;
  ASSERT_TRUE(run({0xd9, 0x38}));
  EXPECT_EQ(read<uint16_t>(kData), 0x027f);
}

TEST_F(Emulate, Ud2InjectsUndefinedOpcodeAtTheInstruction) {
  ASSERT_EQ(run({0x0f, 0x0b}).value(), "ud2 -> #UD");
  EXPECT_EQ(cpu.regs.rip, kCode);
  EXPECT_EQ(cpu.events.exception.nr, 6);
}

TEST_F(Emulate, StacClacXgetbvXsetbv) {
  ASSERT_EQ(run({0x0f, 0x01, 0xcb}).value(), "stac");
  EXPECT_NE(cpu.regs.rflags & (1u << 18), 0u);
  cpu.regs.rip = kCode;
  ASSERT_EQ(run({0x0f, 0x01, 0xca}).value(), "clac");
  EXPECT_EQ(cpu.regs.rflags & (1u << 18), 0u);
  cpu.regs.rip = kCode;
  cpu.regs.rcx = 0;
  ASSERT_EQ(run({0x0f, 0x01, 0xd0}).value(), "xgetbv");
  EXPECT_EQ(cpu.regs.rax, 3u);
  EXPECT_EQ(cpu.regs.rdx, 0u);
  EXPECT_EQ(cpu.regs.rip, kCode + 3);
  cpu.regs.rip = kCode;
  cpu.regs.rcx = 1;
  ASSERT_EQ(run({0x0f, 0x01, 0xd0}).value(), "xgetbv bad index -> #GP");
  EXPECT_EQ(cpu.events.exception.nr, 13);
  EXPECT_EQ(cpu.regs.rip, kCode);
  cpu.regs.rcx = 0;
  cpu.regs.rax = 3;
  ASSERT_EQ(run({0x0f, 0x01, 0xd1}).value(), "xsetbv");
  cpu.regs.rip = kCode;
  cpu.regs.rax = 7;  // AVX: refused
  ASSERT_EQ(run({0x0f, 0x01, 0xd1}).value(), "xsetbv unsupported value -> #GP");
  EXPECT_EQ(counters.stac_clac, 2u);
  EXPECT_EQ(counters.xgetbv, 1u);
  EXPECT_EQ(counters.xsetbv, 1u);
}

TEST_F(Emulate, PopcntTzcntLzcntResultsAndFlags) {
  cpu.regs.rbx = 0xf0f0;
  ASSERT_EQ(run({0xf3, 0x48, 0x0f, 0xb8, 0xc3}).value(), "popcnt");  // popcnt rax, rbx
  EXPECT_EQ(cpu.regs.rax, 8u);
  EXPECT_EQ(cpu.regs.rflags & (1u << 6), 0u);
  cpu.regs.rip = kCode;
  ASSERT_EQ(run({0xf3, 0x48, 0x0f, 0xbc, 0xc3}).value(), "tzcnt");  // tzcnt rax, rbx
  EXPECT_EQ(cpu.regs.rax, 4u);
  cpu.regs.rip = kCode;
  cpu.regs.rax = 0xdead'beef'0000'0000ull;
  ASSERT_EQ(run({0xf3, 0x0f, 0xbd, 0xc3}).value(), "lzcnt");  // lzcnt eax, ebx: 32-bit, zero-extends
  EXPECT_EQ(cpu.regs.rax, 16u);
  cpu.regs.rip = kCode;
  cpu.regs.rbx = 0;
  ASSERT_TRUE(run({0xf3, 0x48, 0x0f, 0xbc, 0xc3}));  // tzcnt of 0: operand size, CF
  EXPECT_EQ(cpu.regs.rax, 64u);
  EXPECT_NE(cpu.regs.rflags & 1, 0u);
  cpu.regs.rip = kCode;
  cpu.regs.rax = kData;
  ASSERT_TRUE(mem.write_obj<uint32_t>(kData, 0));
  ASSERT_TRUE(run({0xf3, 0x0f, 0xb8, 0x08}));  // popcnt ecx, [rax]: zero sets ZF
  EXPECT_EQ(cpu.regs.rcx, 0u);
  EXPECT_NE(cpu.regs.rflags & (1u << 6), 0u);
  EXPECT_EQ(counters.popcnt, 2u);
  EXPECT_EQ(counters.bitcount, 3u);
}

TEST_F(Emulate, RdrandReportsFailureAndFencesRetire) {
  cpu.regs.rdx = 77;
  cpu.regs.rflags |= 1;
  ASSERT_EQ(run({0x0f, 0xc7, 0xf2}).value(), "rdrand -> CF=0");  // rdrand edx
  EXPECT_EQ(cpu.regs.rdx, 0u);
  EXPECT_EQ(cpu.regs.rflags & 1, 0u);
  cpu.regs.rip = kCode;
  ASSERT_EQ(run({0x0f, 0xae, 0xf0}).value(), "fence");  // mfence
  EXPECT_EQ(cpu.regs.rip, kCode + 3);
}

TEST_F(Emulate, LdmxcsrAndStmxcsrGoThroughTheXsaveImage) {
  cpu.regs.rax = kData;
  ASSERT_TRUE(mem.write_obj<uint32_t>(kData, 0x1f80));
  ASSERT_EQ(run({0x0f, 0xae, 0x10}).value(), "ldmxcsr");  // ldmxcsr [rax]
  uint32_t mxcsr;
  std::memcpy(&mxcsr, cpu.xsave_bytes() + 24, 4);
  EXPECT_EQ(mxcsr, 0x1f80u);
  EXPECT_EQ(cpu.xsave_bytes()[512] & 2, 2);
  cpu.regs.rip = kCode;
  ASSERT_EQ(run({0x0f, 0xae, 0x18}).value(), "stmxcsr");  // stmxcsr [rax]
  EXPECT_EQ(read<uint32_t>(kData), 0x1f80u);
  cpu.regs.rip = kCode;
  ASSERT_TRUE(mem.write_obj<uint32_t>(kData, 0x10000));
  ASSERT_EQ(run({0x0f, 0xae, 0x10}).value(), "ldmxcsr reserved bits -> #GP");
  EXPECT_EQ(cpu.events.exception.nr, 13);
}

TEST_F(Emulate, Cmpxchg16bSwapsOnMatchAndLoadsOnMismatch) {
  uint64_t old_pair[2] = {1, 2};
  ASSERT_TRUE(mem.write(kData, old_pair, 16));
  cpu.regs.rdi = kData;
  cpu.regs.rax = 1, cpu.regs.rdx = 2, cpu.regs.rbx = 10, cpu.regs.rcx = 20;
  ASSERT_EQ(run({0x48, 0x0f, 0xc7, 0x0f}).value(), "cmpxchg16b");  // cmpxchg16b [rdi]
  EXPECT_EQ(read<uint64_t>(kData), 10u);
  EXPECT_EQ(read<uint64_t>(kData + 8), 20u);
  EXPECT_NE(cpu.regs.rflags & (1u << 6), 0u);
  EXPECT_EQ(cpu.regs.rip, kCode + 4);
  cpu.regs.rip = kCode;
  ASSERT_TRUE(run({0x48, 0x0f, 0xc7, 0x0f}));  // now memory holds 10, 20: mismatch
  EXPECT_EQ(cpu.regs.rax, 10u);
  EXPECT_EQ(cpu.regs.rdx, 20u);
  EXPECT_EQ(cpu.regs.rflags & (1u << 6), 0u);
  cpu.regs.rip = kCode;
  cpu.regs.rax = 10, cpu.regs.rdx = 0, cpu.regs.rbx = 0x5555, cpu.regs.rcx = 0x6666;
  ASSERT_EQ(run({0x0f, 0xc7, 0x0f}).value(), "cmpxchg8b");  // 32-bit halves: 10 and 0 match
  EXPECT_EQ(read<uint32_t>(kData), 0x5555u);
  EXPECT_EQ(read<uint32_t>(kData + 4), 0x6666u);
  EXPECT_EQ(counters.cmpxchg16b, 3u);  // cmpxchg8b is counted with its 16-byte form
}

TEST_F(Emulate, FxsaveAndFxrstorMoveTheLegacyRegion) {
  std::memset(cpu.xmm(3), 0xab, 16);
  cpu.xsave_bytes()[0] = 0x7f;  // FCW low byte
  cpu.regs.rax = kData;
  ASSERT_EQ(run({0x0f, 0xae, 0x00}).value(), "fxsave at 0x20000");
  EXPECT_EQ(read<uint8_t>(kData + 160 + 3 * 16 + 5), 0xab);
  EXPECT_EQ(read<uint8_t>(kData), 0x7f);
  ASSERT_TRUE(mem.write_obj<uint8_t>(kData + 160 + 7 * 16, 0x42));
  cpu.regs.rip = kCode;
  ASSERT_EQ(run({0x0f, 0xae, 0x08}).value(), "fxrstor at 0x20000");
  EXPECT_EQ(cpu.xmm(7)[0], 0x42);
  EXPECT_EQ(cpu.xmm(3)[0], 0xab);
  EXPECT_EQ(counters.fxsave, 1u);
  EXPECT_EQ(counters.fxrstor, 1u);
}

TEST_F(Emulate, XsaveSetsTheHeaderAndXrstorInitialisesAbsentComponents) {
  std::memset(cpu.xmm(0), 0x11, 16);
  cpu.regs.rdi = kData;
  cpu.regs.rax = 3, cpu.regs.rdx = 0;
  ASSERT_EQ(run({0x0f, 0xae, 0x27}).value(), "xsave at 0x20000");  // xsave [rdi]
  EXPECT_EQ(read<uint64_t>(kData + 512), 3u);  // XSTATE_BV: x87 | SSE
  EXPECT_EQ(read<uint8_t>(kData + 160), 0x11);
  cpu.regs.rip = kCode;
  ASSERT_TRUE(run({0x0f, 0xc7, 0x27}));  // xsavec [rdi]: compacted format bit
  EXPECT_EQ(read<uint64_t>(kData + 520), (1ull << 63) | 3);
  ASSERT_TRUE(mem.write_obj<uint64_t>(kData + 512, 1));  // SSE absent from the saved area
  cpu.regs.rip = kCode;
  ASSERT_EQ(run({0x0f, 0xae, 0x2f}).value(), "xrstor at 0x20000");  // xrstor [rdi]
  EXPECT_EQ(cpu.xmm(0)[0], 0) << "absent SSE state is restored to its init state";
  EXPECT_EQ(counters.xsave, 2u);
  EXPECT_EQ(counters.xrstor, 1u);
}

TEST_F(Emulate, SseMovesAndLogic) {
  cpu.regs.rcx = 0x1122334455667788ull;
  ASSERT_EQ(run({0x66, 0x0f, 0x6e, 0xc1}).value(), "movd/movq to xmm xmm0");  // movd xmm0, ecx
  uint64_t lo, hi;
  std::memcpy(&lo, cpu.xmm(0), 8);
  std::memcpy(&hi, cpu.xmm(0) + 8, 8);
  EXPECT_EQ(lo, 0x55667788u);
  EXPECT_EQ(hi, 0u);
  cpu.regs.rip = kCode;
  std::memset(cpu.xmm(1), 0xff, 16);
  ASSERT_TRUE(run({0x66, 0x0f, 0xef, 0xc8}));  // pxor xmm1, xmm0
  EXPECT_EQ(cpu.xmm(1)[0], 0xff ^ 0x88);
  EXPECT_EQ(cpu.xmm(1)[15], 0xff);
  cpu.regs.rip = kCode;
  cpu.regs.rax = kData;
  ASSERT_TRUE(run({0xf3, 0x0f, 0x7f, 0x08}));  // movdqu [rax], xmm1
  EXPECT_EQ(read<uint8_t>(kData), 0xff ^ 0x88);
  cpu.regs.rip = kCode;
  cpu.regs.rax = kData + 4;
  ASSERT_EQ(run({0x66, 0x0f, 0x7f, 0x08}).value(), "movdqa misaligned -> #GP");
  EXPECT_EQ(cpu.events.exception.nr, 13);
  EXPECT_EQ(counters.sse, 3u);
}

TEST_F(Emulate, SseFaultsLikeTheCpuWhenTheOsHasNotEnabledIt) {
  cpu.sregs.cr0 |= 1u << 3;  // CR0.TS
  ASSERT_EQ(run({0x66, 0x0f, 0xef, 0xc8}).value(), "pxor with CR0.TS -> #NM");
  EXPECT_EQ(cpu.events.exception.nr, 7);
  cpu.sregs.cr4 &= ~(1u << 9);  // no OSFXSR
  ASSERT_EQ(run({0x66, 0x0f, 0xef, 0xc8}).value(), "pxor without OSFXSR -> #UD");
  EXPECT_EQ(cpu.events.exception.nr, 6);
  EXPECT_EQ(cpu.regs.rip, kCode);
}

TEST_F(Emulate, LslAndLarReadTheGdtLikeLinuxGettingItsCpuNumber) {
  // A GDT at 0x40000 with Linux's CPUNODE entry (index 15): a DPL-3 data segment whose limit
  // encodes node 0, CPU 5; its selector is 15 * 8 + 3.
  cpu.sregs.gdt.base = 0x40000;
  cpu.sregs.gdt.limit = 16 * 8 - 1;
  uint64_t cpunode = 5 | (uint64_t{0xf3} << 40);  // present, DPL 3, data read/write accessed
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x40000 + 15 * 8, cpunode));
  cpu.regs.rax = 15 * 8 + 3;
  ASSERT_EQ(run({0x48, 0x0f, 0x03, 0xc0}).value(), "lsl 0x7b");  // lsl rax, eax
  EXPECT_EQ(cpu.regs.rax, 5u);
  EXPECT_TRUE(cpu.regs.rflags & 0x40);
  EXPECT_EQ(cpu.regs.rip, kCode + 4);

  // 4 KiB granularity: limit 0xf_ffff pages is 4 GiB - 1.
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x40000 + 2 * 8, 0x00cf93000000ffffull));
  cpu.regs.rip = kCode;
  cpu.regs.rbx = 2 * 8;
  ASSERT_TRUE(run({0x0f, 0x03, 0xcb}));  // lsl ecx, ebx
  EXPECT_EQ(cpu.regs.rcx, 0xffffffffu);
  cpu.regs.rip = kCode;
  ASSERT_TRUE(run({0x0f, 0x02, 0xcb}));  // lar ecx, ebx: access rights
  EXPECT_EQ(cpu.regs.rcx, 0x00c09300u);
  EXPECT_EQ(counters.lar_lsl, 3u);
}

TEST_F(Emulate, LslClearsZfAndKeepsTheDestinationWithoutAUsableDescriptor) {
  cpu.sregs.gdt.base = 0x40000;
  cpu.sregs.gdt.limit = 4 * 8 - 1;
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x40000 + 3 * 8, uint64_t{0x93} << 40));  // DPL 0 data
  for (uint64_t selector : {0ull, 3 * 8 + 3ull, 9 * 8ull, 4ull}) {  // null, RPL 3 > DPL, past limit, LDT
    cpu.regs.rip = kCode;
    cpu.regs.rflags = 0x42;
    cpu.regs.rax = selector;
    cpu.regs.rdx = 0x1234;
    ASSERT_TRUE(run({0x0f, 0x03, 0xd0}));  // lsl edx, eax
    EXPECT_EQ(cpu.regs.rdx, 0x1234u) << selector;
    EXPECT_FALSE(cpu.regs.rflags & 0x40) << selector;
    EXPECT_EQ(cpu.regs.rip, kCode + 3);
  }
}

TEST_F(Emulate, UnknownInstructionsAndUnmappedRipAreCountedErrors) {
  auto r = run({0x0f, 0x05});  // syscall
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("cannot emulate the instruction at rip 0x10000 (cpl 0, 64-bit): 0f 05"),
            std::string::npos)
      << r.error().to_string();
  EXPECT_EQ(cpu.regs.rip, kCode);
  cpu.regs.rip = 0x300000;  // outside the mapping
  auto unmapped = emulate_failed_instruction(cpu, mem, counters);
  ASSERT_FALSE(unmapped);
  EXPECT_NE(unmapped.error().to_string().find("not mapped"), std::string::npos);
  EXPECT_EQ(counters.unhandled, 2u);
}

}  // namespace
}  // namespace vessel::vmm::x86
