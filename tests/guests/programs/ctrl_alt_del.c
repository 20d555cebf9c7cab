// Waits for Ctrl+Alt+Del on the i8042 keyboard, taking IRQ 1 through the IOAPIC like a kernel
// would: one byte of port 0x60 per interrupt. Exits 0 when it got the expected make codes
// (scan-code set 2, or set 1 with "xlate" on the command line: the controller translates); with
// "reboot" on the command line it then resets through the i8042 instead (as Linux, reboot=k).
// Host side: tests/integration/vmm/keyboard_test.cc (API SendCtrlAltDel and SIGTERM).
#include "guest.h"

#define LAPIC 0xfee00000ull
#define IOAPIC 0xfec00000ull
#define KBD_VECTOR 0x41

static volatile uint8_t codes[16];
static volatile int ncodes;
static volatile int irqs;

// Called by kbd_isr with the caller-saved registers preserved.
void kbd_irq(void) {
  ++irqs;
  if ((inb(0x64) & 1) && ncodes < 16) codes[ncodes++] = inb(0x60);
  mmio_write32(LAPIC + 0xb0, 0);  // EOI
}

void kbd_isr(void);
__asm__(
    ".text\n.globl kbd_isr\nkbd_isr:\n"
    "push %rax\npush %rcx\npush %rdx\npush %rsi\npush %rdi\npush %r8\npush %r9\npush %r10\npush %r11\n"
    "call kbd_irq\n"
    "pop %r11\npop %r10\npop %r9\npop %r8\npop %rdi\npop %rsi\npop %rdx\npop %rcx\npop %rax\n"
    "iretq\n");

static int has_word(const char* s, const char* w) {
  uint64_t n = strlen(w);
  for (; *s; ++s)
    if ((s == boot_info()->cmdline || s[-1] == ' ') && !memcmp(s, w, n) && (s[n] == ' ' || !s[n]))
      return 1;
  return 0;
}

static int read_polled(void) {
  for (int i = 0; i < 100000; ++i)
    if (inb(0x64) & 1) return inb(0x60);
  return -1;
}

static void ioapic_write(uint32_t reg, uint32_t v) {
  mmio_write32(IOAPIC, reg);
  mmio_write32(IOAPIC + 0x10, v);
}

int main(void) {
  int xlate = has_word(boot_info()->cmdline, "xlate");
  // The keyboard answers atkbd's probe (interrupts still off: polled).
  outb(0x60, 0xf2);
  int ack = read_polled(), id1 = read_polled(), id2 = read_polled();
  if (ack != 0xfa || id1 != 0xab || id2 != 0x83) {
    printf("kbd: GETID answered %x %x %x\n", ack, id1, id2);
    return 20;
  }

  outb(0x21, 0xff);  // mask both 8259s: IRQ 1 comes through the IOAPIC
  outb(0xa1, 0xff);
  set_gate(KBD_VECTOR, kbd_isr, 0);
  mmio_write32(LAPIC + 0xf0, 0x1ff);  // APIC software enable, spurious vector 0xff
  mmio_write32(LAPIC + 0x80, 0);      // TPR
  ioapic_write(0x10 + 2 * 1 + 1, 0);            // destination: APIC 0
  ioapic_write(0x10 + 2 * 1, KBD_VECTOR);       // fixed, physical, edge, active high, unmasked
  outb(0x64, 0x60);                             // write the command byte:
  outb(0x60, xlate ? 0x41 : 0x01);              // keyboard interrupt on (and XLATE)
  printf("kbd ready xlate=%d\n", xlate);

  while (ncodes < 4) __asm__ volatile("sti; hlt; cli");
  printf("kbd codes %x %x %x %x irqs=%d\n", codes[0], codes[1], codes[2], codes[3], irqs);
  static const uint8_t set2[4] = {0x14, 0x11, 0xe0, 0x71}, set1[4] = {0x1d, 0x38, 0xe0, 0x53};
  const uint8_t* want = xlate ? set1 : set2;
  for (int i = 0; i < 4; ++i)
    if (codes[i] != want[i]) return 21;
  if (irqs < 4) return 22;
  puts("ctrl-alt-del received\n");
  if (has_word(boot_info()->cmdline, "reboot")) {  // as Linux does with reboot=k
    outb(0x64, 0xfe);
    return 23;
  }
  return 0;
}
