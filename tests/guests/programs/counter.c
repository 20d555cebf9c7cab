// Counts in ring 3 and prints "count N" (from ring 0: PVM refuses port I/O from guest user mode)
// after every 2^26 iterations until N reaches "count=N" from the command line (default 400),
// then exits 0. The pause/resume test checks that no line appears while paused and that the
// count continues where it stopped.
#include "guest.h"

static uint64_t count_chunk(void* arg) {
  volatile uint64_t inner;
  for (inner = 0; inner < (1u << 26); ++inner) {
  }
  return (uint64_t)arg + 1;
}

static uint64_t parse_count(const char* s) {
  for (; *s; ++s) {
    if (s[0] == 'c' && s[1] == 'o' && s[2] == 'u' && s[3] == 'n' && s[4] == 't' && s[5] == '=') {
      uint64_t v = 0;
      for (s += 6; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (uint64_t)(*s - '0');
      return v;
    }
  }
  return 400;
}

int main(void) {
  uint64_t limit = parse_count(boot_info()->cmdline);
  printf("counting to %lu\n", limit);
  uint64_t n = 0;
  while (n < limit) {
    n = run_user(count_chunk, (void*)n);
    printf("count %lu\n", n);
  }
  printf("done %lu\n", n);
  return 0;
}
