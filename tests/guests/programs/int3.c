// Executes int3 in ring 0. On a PVM host KVM's emulator cannot deliver it; the VMM must inject
// #BP with RIP past the instruction so that the handler runs and execution continues.
#include "guest.h"

int main(void) {
  puts("before int3\n");
  __asm__ volatile("int3");
  puts("after int3\n");
  return 0;
}
