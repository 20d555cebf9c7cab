// SYSCALL from ring 3 into the LSTAR entry in ring 0: what Linux user space does for every system
// call. Prints what the entry saw (CS, RCX = return address, R11 = RFLAGS, RAX) and exits 0 when
// it is what the CPU defines; a host that gets the transition wrong shows up as an exception
// report instead (exit 0x80 + vector).
#include "guest.h"

extern char syscall_entry[];
extern char syscall_return_site[];
volatile uint64_t seen_cs, seen_rcx, seen_r11, seen_rax;

__asm__(".text\n.globl syscall_entry\nsyscall_entry:\n"
        "  mov %rcx, seen_rcx(%rip)\n"
        "  mov %r11, seen_r11(%rip)\n"
        "  mov %rax, seen_rax(%rip)\n"
        "  mov %cs, %rcx\n"
        "  mov %rcx, seen_cs(%rip)\n"
        "  mov %cs, %rcx\n"
        "  test $3, %cl\n"
        "  jnz user_exit_insn\n"        // still in ring 3 (a host bug): leave through run_user's exit
        "  jmp vector_user_return\n");  // ring 0: straight back on run_user's kernel stack

static void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}

// Like Linux, the entry lives at a supervisor-only address: an alias of the low 2 MiB at
// -2 GiB (PML4[511] -> PDPT[510] -> one 2 MiB page without the U bit).
#define ALIAS_BASE 0xffffffff80000000ull
static uint64_t alias_pdpt[512] __attribute__((aligned(4096)));
static uint64_t alias_pd[512] __attribute__((aligned(4096)));

static void map_supervisor_alias(void) {
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  uint64_t* pml4 = (uint64_t*)(cr3 & ~0xfffull);
  alias_pd[0] = 0x83;  // physical 0, P|W|PS
  alias_pdpt[510] = (uint64_t)alias_pd | 0x3;
  pml4[511] = (uint64_t)alias_pdpt | 0x3;
  __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

static uint64_t user_fn(void* arg) {
  (void)arg;
  __asm__ volatile("mov $42, %%eax\n"
                   "syscall\n"
                   ".globl syscall_return_site\n"
                   "syscall_return_site:\n"
                   "1: jmp 1b\n" ::: "rax", "rcx", "r11", "memory");
  return 0;
}

int main(void) {
  puts("syscall: entering ring 3\n");  // (also gives the VMM an exit to arm its PVM repair)
  wrmsr(0xc0000081, (0x08ull << 32) | (0x10ull << 48));  // STAR: kernel CS 0x08, SS 0x10
  map_supervisor_alias();
  wrmsr(0xc0000082, ALIAS_BASE + (uint64_t)syscall_entry); // LSTAR, supervisor-only
  wrmsr(0xc0000084, 0x200);                                // FMASK: clear IF
  wrmsr(0xc0000080, rdmsr(0xc0000080) | 1);                // EFER.SCE
  run_user(user_fn, 0);
  printf("syscall: cs=%lx rcx=%lx (return site %lx) r11=%lx rax=%lu\n", seen_cs, seen_rcx,
         (uint64_t)syscall_return_site, seen_r11, seen_rax);
  int ok = seen_cs == 0x08 && seen_rcx == (uint64_t)syscall_return_site && seen_rax == 42 && (seen_r11 & 0x2);
  if (ok) puts("syscall ok\n");
  return ok ? 0 : 1;
}
