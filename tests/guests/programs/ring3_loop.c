// A heavy loop in ring 3 (native speed on PVM) whose result is checked: sum of i*i mod 2^64
// for i < 50,000,000 is printed and compared with the value computed in C on the host.
#include "guest.h"

static uint64_t work(void* arg) {
  uint64_t n = (uint64_t)arg, sum = 0;
  for (uint64_t i = 0; i < n; ++i) sum += i * i;
  return sum;
}

int main(void) {
  uint64_t t0 = rdtsc();
  uint64_t sum = run_user(work, (void*)50000000ull);
  uint64_t t1 = rdtsc();
  printf("ring3 sum=%lx cycles=%lu\n", sum, t1 - t0);
  return 0;
}
