// Prints the CPUID view the VMM gives this vCPU: hypervisor leaf, APIC id, and the features a
// PVM host must hide (XSAVE, CX16, AVX, RDRAND).
#include "guest.h"

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

int main(void) {
  uint32_t r[4];
  char sig[13];
  cpuid(0x40000000, 0, r);
  memcpy(sig, &r[1], 4);
  memcpy(sig + 4, &r[2], 4);
  memcpy(sig + 8, &r[3], 4);
  sig[12] = 0;
  printf("hypervisor=%s\n", sig);
  cpuid(1, 0, r);
  printf("apic_id=%u hv=%u xsave=%u cx16=%u avx=%u rdrand=%u x2apic=%u\n", r[1] >> 24,
         (r[2] >> 31) & 1, (r[2] >> 26) & 1, (r[2] >> 13) & 1, (r[2] >> 28) & 1, (r[2] >> 30) & 1,
         (r[2] >> 21) & 1);
  printf("sse3=%u pclmul=%u ssse3=%u sse41=%u sse42=%u aes=%u tsc_deadline=%u\n", r[2] & 1, (r[2] >> 1) & 1,
         (r[2] >> 9) & 1, (r[2] >> 19) & 1, (r[2] >> 20) & 1, (r[2] >> 25) & 1, (r[2] >> 24) & 1);
  cpuid(0x40000001, 0, r);
  printf("kvm_pv_unhalt=%u kvm_pv_send_ipi=%u kvm_pv_sched_yield=%u\n", (r[0] >> 7) & 1, (r[0] >> 11) & 1,
         (r[0] >> 13) & 1);
  return 0;
}
