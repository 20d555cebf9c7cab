// Counts in ring 3 and prints "count N" every 2^22 iterations until N reaches the limit given
// as "count=N" on the command line (default 400), then exits 0. The pause/resume test checks that
// no line appears while paused and that the count continues where it stopped.
#include "guest.h"

static uint64_t count_loop(void* arg) {
  uint64_t limit = (uint64_t)arg;
  volatile uint64_t inner;
  for (uint64_t n = 1; n <= limit; ++n) {
    for (inner = 0; inner < (1u << 22); ++inner) {
    }
    printf("count %lu\n", n);
  }
  return limit;
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
  uint64_t done = run_user(count_loop, (void*)limit);
  printf("done %lu\n", done);
  return 0;
}
