// Behaves like Linux with panic=-1: prints the panic line on the console and resets at once
// through the i8042. vessel-vmm must report a panic (exit 3), not a reboot.
#include "guest.h"

int main(void) {
  puts("[    1.234567] Kernel panic - not syncing: vessel test panic\n");
  outb(0x64, 0xfe);
  return 9;
}
