// SMP bring-up: starts every CPU the MADT lists, prints how many came online and their APIC ids
// (sum checked by the test), and exits 0 only when all did.
#include "guest.h"

int main(void) {
  int cpus = acpi_count_cpus();
  printf("madt cpus=%d\n", cpus);
  int online = smp_start_aps(cpus, 20000000000ull);
  uint32_t id_sum = 0;
  for (int i = 0; i < online - 1; ++i) id_sum += smp_ap_apic_id(i);
  printf("smp online=%d of %d ap_apic_id_sum=%u\n", online, cpus, id_sum);
  return online == cpus ? 0 : 1;
}
