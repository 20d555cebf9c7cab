// Prints the host TSC rate in Hz (the guest's TSC runs at the same rate under KVM without TSC
// scaling), measured against CLOCK_MONOTONIC over 200 ms.
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
  double t0 = now();
  uint64_t c0 = __rdtsc();
  while (now() - t0 < 0.2) {
  }
  double t1 = now();
  uint64_t c1 = __rdtsc();
  printf("%.0f\n", (c1 - c0) / (t1 - t0));
  return 0;
}
