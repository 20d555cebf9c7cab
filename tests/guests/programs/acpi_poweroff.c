// Powers off the way Linux does on a hardware-reduced ACPI machine: finds the FADT through the
// RSDP, checks the DSDT is there, and writes SLP_TYP(5)|SLP_EN to the sleep control register.
#include "guest.h"

int main(void) {
  uint64_t fadt = acpi_find_table("FACP");
  if (!fadt) {
    puts("no FADT\n");
    return 2;
  }
  uint32_t flags = *(const uint32_t*)(fadt + 112);
  uint64_t dsdt = *(const uint64_t*)(fadt + 140);
  const uint8_t* sleep_ctl = (const uint8_t*)(fadt + 244);  // Generic Address Structure
  uint64_t port = *(const uint64_t*)(sleep_ctl + 4);
  printf("fadt flags=%x hw_reduced=%d dsdt=%s sleep_ctl space=%d port=%lx\n", flags,
         (flags >> 20) & 1, dsdt && memcmp((const void*)dsdt, "DSDT", 4) == 0 ? "ok" : "missing",
         sleep_ctl[0], port);
  if (sleep_ctl[0] != 1 || port == 0) return 4;
  outb((uint16_t)port, (5 << 2) | (1 << 5));
  puts("still alive after ACPI poweroff\n");
  return 5;
}
