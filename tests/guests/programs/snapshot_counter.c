// Counts in a register and in memory, for the snapshot tests (tests/integration/vmm/
// snapshot_test.cc): from ring 3 a loop keeps the count in a register and stores it to memory
// after every step, checking first that memory still holds the register's value; every 2^27
// steps it prints "tick N" until N reaches "ticks=N" (command line, default 50). A VM restored
// from a snapshot must go on from the exact count: a lost register or page shows as "bad".
// With the word "fill" it first writes one word into every 4 KiB page from 32 MiB to the end of
// RAM (all memory dirty, for the benchmark) and checks those words again at the end.
#include "guest.h"

#define TICK (1ull << 27)
#define FILL_START (32ull << 20)

static volatile uint64_t mem_count;

static uint64_t count_user(void* arg) {
  uint64_t n = (uint64_t)arg, ok = 1;
  __asm__ volatile(
      "1:\n\t"
      "cmp %[n], %[mem]\n\t"
      "jne 2f\n\t"
      "inc %[n]\n\t"
      "mov %[n], %[mem]\n\t"
      "test %[mask], %[n]\n\t"
      "jnz 1b\n\t"
      "jmp 3f\n"
      "2:\n\t"
      "xor %[ok], %[ok]\n"
      "3:\n"
      : [n] "+r"(n), [ok] "+r"(ok), [mem] "+m"(mem_count)
      : [mask] "r"(TICK - 1)
      : "cc", "memory");
  return ok ? n : 0;
}

static uint64_t fill_end(void) {
  uint64_t ram = boot_info()->ram_bytes;
  return ram > (3ull << 30) ? (3ull << 30) : ram;
}

static uint64_t fill(void* arg) {
  (void)arg;
  for (uint64_t a = FILL_START; a + 4096 <= fill_end(); a += 4096) *(volatile uint64_t*)a = a ^ 0x5a5a5a5aull;
  return 0;
}

static uint64_t check_fill(void* arg) {
  (void)arg;
  uint64_t bad = 0;
  for (uint64_t a = FILL_START; a + 4096 <= fill_end(); a += 4096)
    if (*(volatile uint64_t*)a != (a ^ 0x5a5a5a5aull)) bad++;
  return bad;
}

int main(void) {
  uint64_t ticks = cmdline_u64("ticks", 50);
  int filled = cmdline_has_word("fill");
  if (filled) {
    run_user(fill, 0);
    printf("filled %lu MiB\n", (fill_end() - FILL_START) >> 20);
  }
  printf("counting to tick %lu\n", ticks);
  uint64_t n = 0;
  while (n / TICK < ticks) {
    uint64_t next = run_user(count_user, (void*)n);
    if (next == 0) {
      printf("bad: memory holds %lu, the register %lu\n", mem_count, n);
      return 1;
    }
    n = next;
    printf("tick %lu\n", n / TICK);
  }
  if (filled) {
    uint64_t bad = run_user(check_fill, 0);
    printf("memory %s (%lu pages differ)\n", bad ? "bad" : "ok", bad);
    if (bad) return 1;
  }
  printf("done %lu\n", n / TICK);
  return 0;
}
