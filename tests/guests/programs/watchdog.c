// Drives the IB700 watchdog (ports 0x441 stop, 0x443 start/pet) as Linux's ib700wdt does:
// starts it with the timeout value "value=N" (default 14: 2 s), pets it "pets=N" times (default
// 4), one pet per second of the CMOS clock, then hangs with interrupts off (cli; hlt) so that
// only the watchdog can end the VM. With "stop" on the command line it stops the watchdog
// instead, waits "wait=N" seconds (default 4) and exits 7: a stopped watchdog never fires.
// Host side: tests/integration/vmm/watchdog_test.cc.
#include "guest.h"

#define WDT_STOP 0x441
#define WDT_START 0x443

static uint8_t rtc_seconds(void) {
  outb(0x70, 0x80);  // register 0, NMIs masked
  return inb(0x71);
}

static void wait_next_second(void) {
  uint8_t now = rtc_seconds();
  while (rtc_seconds() == now) cpu_relax();
}

int main(void) {
  uint8_t value = (uint8_t)cmdline_u64("value", 14);
  outb(WDT_START, value);
  printf("watchdog: started with value %d\n", value);
  if (cmdline_has_word("stop")) {
    outb(WDT_STOP, 0);
    uint64_t wait = cmdline_u64("wait", 4);
    for (uint64_t i = 0; i < wait; ++i) wait_next_second();
    puts("watchdog: stopped and still alive\n");
    return 7;
  }
  uint64_t pets = cmdline_u64("pets", 4);
  for (uint64_t i = 1; i <= pets; ++i) {
    wait_next_second();
    outb(WDT_START, value);
    printf("watchdog: pet %d\n", (int)i);
  }
  puts("watchdog: hanging\n");
  for (;;) __asm__ volatile("cli; hlt");
}
