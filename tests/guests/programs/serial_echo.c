// Echoes what arrives on COM1 back, upper-cased (so a test can tell the guest's echo from a
// terminal's local echo), for the interactive console tests. A '.' ends the guest with exit
// status 5 after printing "bye". Polls the UART from ring 0 (PVM refuses port I/O from ring 3)
// and waits between polls in ring 3, which runs natively on PVM hosts.
#include "guest.h"

#define COM1_LSR (GUEST_COM1 + 5)
#define LSR_DATA_READY 0x01

static uint64_t idle(void* arg) {
  volatile uint64_t i;
  for (i = 0; i < (1u << 18); ++i) {
  }
  return (uint64_t)arg;
}

int main(void) {
  printf("echo ready\n");
  for (;;) {
    if (!(inb(COM1_LSR) & LSR_DATA_READY)) {
      run_user(idle, 0);
      continue;
    }
    char c = (char)inb(GUEST_COM1);
    if (c == '.') {
      printf("\nbye\n");
      return 5;
    }
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    if (c == '\r') c = '\n';
    putc(c);
  }
}
