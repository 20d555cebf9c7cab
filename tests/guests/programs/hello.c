// Prints what the VMM told it (boot path, memory, command line, CPUs) and exits 0.
#include "guest.h"

int main(void) {
  const struct boot_info* b = boot_info();
  printf("hello from the vessel test kit\n");
  printf("boot=%s ram_mib=%lu mem_entries=%u cpus=%d\n", b->kind == BOOT_PVH ? "pvh" : "flat64",
         b->ram_bytes >> 20, b->mem_entries, acpi_count_cpus());
  printf("cmdline=[%s]\n", b->cmdline);
  return 0;
}
