// Test-kit runtime: descriptor tables, boot information, serial output, ACPI lookup, exit.
#include <stdarg.h>

#include "guest.h"

int main(void);

extern uint64_t gdt[];
extern uint64_t gdt_tss[];
extern uint64_t boot_info_pvh, boot_info_zeropage;
extern char stack_top[];
extern char vector_user_return[];
extern char vector_0[], vector_1[], vector_2[], vector_3[], vector_4[], vector_5[], vector_6[],
    vector_7[], vector_8[], vector_9[], vector_10[], vector_11[], vector_12[], vector_13[],
    vector_14[], vector_15[], vector_16[], vector_17[], vector_18[], vector_19[];

struct __attribute__((packed)) tss64 {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
};
struct __attribute__((packed)) idt_gate {
  uint16_t offset_low, selector;
  uint8_t ist, type_attr;
  uint16_t offset_mid;
  uint32_t offset_high, zero;
};
struct __attribute__((packed)) table_desc {
  uint16_t limit;
  uint64_t base;
};

static struct tss64 tss;
static struct idt_gate idt[256];
static struct boot_info info;
static char interrupt_stack[16384] __attribute__((aligned(16)));

void set_gate(int vector, void* handler, int dpl) {
  uint64_t a = (uint64_t)handler;
  idt[vector] = (struct idt_gate){(uint16_t)a, 0x08, 0, (uint8_t)(0x8e | (dpl << 5)),
                                  (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0};
}

static void setup_cpu_tables(void) {
  tss.rsp[0] = (uint64_t)(interrupt_stack + sizeof interrupt_stack);
  tss.iomap_base = sizeof tss;  // no I/O bitmap: IOPL decides
  uint64_t base = (uint64_t)&tss, limit = sizeof tss - 1;
  gdt_tss[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
               (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  gdt_tss[1] = base >> 32;
  __asm__ volatile("ltr %w0" ::"r"(0x28));
  void* vectors[20] = {vector_0,  vector_1,  vector_2,  vector_3,  vector_4,  vector_5,  vector_6,
                       vector_7,  vector_8,  vector_9,  vector_10, vector_11, vector_12, vector_13,
                       vector_14, vector_15, vector_16, vector_17, vector_18, vector_19};
  for (int i = 0; i < 20; ++i) set_gate(i, vectors[i], i == 3 ? 3 : 0);
  set_gate(0x80, vector_user_return, 3);
  struct table_desc d = {sizeof idt - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" ::"m"(d));
}

// hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h), version 1.
struct hvm_start_info {
  uint32_t magic, version, flags, nr_modules;
  uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
  uint32_t memmap_entries, reserved;
};
struct hvm_memmap_entry {
  uint64_t addr, size;
  uint32_t type, reserved;
};
struct __attribute__((packed)) e820_entry {
  uint64_t addr, size;
  uint32_t type;
};

static void parse_boot_info(void) {
  info.cmdline = "";
  if (boot_info_pvh) {
    const struct hvm_start_info* si = (const void*)boot_info_pvh;
    info.kind = BOOT_PVH;
    if (si->magic != 0x336ec578) {
      puts("guest: bad hvm_start_info magic\n");
      poweroff(0x70);
    }
    if (si->cmdline_paddr) info.cmdline = (const char*)si->cmdline_paddr;
    info.rsdp = si->rsdp_paddr;
    const struct hvm_memmap_entry* m = (const void*)si->memmap_paddr;
    info.mem_entries = si->version >= 1 ? si->memmap_entries : 0;
    for (uint32_t i = 0; i < info.mem_entries; ++i)
      if (m[i].type == 1) info.ram_bytes += m[i].size;
  } else {
    const uint8_t* zp = (const uint8_t*)boot_info_zeropage;
    info.kind = BOOT_FLAT64;
    if (zp == 0) return;
    uint32_t cmd = *(const uint32_t*)(zp + 0x228);
    if (cmd) info.cmdline = (const char*)(uint64_t)cmd;
    info.rsdp = *(const uint64_t*)(zp + 0x70);
    info.mem_entries = zp[0x1e8];
    const struct e820_entry* e = (const void*)(zp + 0x2d0);
    for (uint32_t i = 0; i < info.mem_entries && i < 128; ++i)
      if (e[i].type == 1) info.ram_bytes += e[i].size;
  }
}

const struct boot_info* boot_info(void) { return &info; }

// The word at `s` is a whole word of the command line (at its start or after a space).
static int word_start(const char* s) { return s == info.cmdline || s[-1] == ' '; }

uint64_t cmdline_u64(const char* key, uint64_t def) {
  uint64_t n = strlen(key);
  for (const char* s = info.cmdline; *s; ++s) {
    if (!word_start(s) || memcmp(s, key, n) || s[n] != '=') continue;
    uint64_t v = 0;
    for (s += n + 1; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (uint64_t)(*s - '0');
    return v;
  }
  return def;
}

int cmdline_has_word(const char* w) {
  uint64_t n = strlen(w);
  for (const char* s = info.cmdline; *s; ++s)
    if (word_start(s) && !memcmp(s, w, n) && (s[n] == ' ' || !s[n])) return 1;
  return 0;
}

__attribute__((noreturn)) void runtime_start(void) {
  setup_cpu_tables();
  parse_boot_info();
  poweroff(main());
}

struct exception_frame {
  uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern char user_exit_insn[];
uint64_t guest_ud_resume;
volatile int guest_ud_count;

// Returns 1 when the exception is the ring-3 exit sequence (resume in run_user's caller),
// 0 to resume the interrupted code; powers off otherwise.
int exception_report(struct exception_frame* f) {
  if (f->vector == 3) {  // int3: report and resume after it (the VMM must deliver #BP right)
    printf("guest: breakpoint at %lx\n", f->rip);
    return 0;
  }
  if ((f->cs & 3) == 3 && f->rip == (uint64_t)user_exit_insn) return 1;
  if (f->vector == 6 && guest_ud_resume && f->rip == guest_ud_resume) {  // expected #UD (ud2)
    ++guest_ud_count;
    f->rip += 2;
    return 0;
  }
  printf("guest: exception %lu error %lx at rip %lx cs %lx\n", f->vector, f->error, f->rip, f->cs);
  poweroff(0x80 + (int)f->vector);
}

__attribute__((noreturn)) void poweroff(int code) {
  outb(GUEST_DEBUG_EXIT_PORT, (uint8_t)code);
  for (;;) __asm__ volatile("cli; hlt");
}

uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

// ---------------------------------------------------------------- output

void putc(char c) {
  if (c == '\n') outb(GUEST_COM1, '\r');
  outb(GUEST_COM1, (uint8_t)c);
}
void puts(const char* s) {
  while (*s) putc(*s++);
}
void put_dec(uint64_t v) {
  char buf[24];
  int i = 0;
  do buf[i++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  while (i) putc(buf[--i]);
}
void put_hex(uint64_t v) {
  char buf[16];
  int i = 0;
  do buf[i++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
  while (i) putc(buf[--i]);
}

void printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  for (; *fmt; ++fmt) {
    if (*fmt != '%') {
      putc(*fmt);
      continue;
    }
    ++fmt;
    int is_long = 0;
    while (*fmt == 'l') is_long = 1, ++fmt;
    switch (*fmt) {
      case 's': puts(va_arg(ap, const char*)); break;
      case 'c': putc((char)va_arg(ap, int)); break;
      case 'd': {
        int64_t v = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);
        if (v < 0) putc('-'), v = -v;
        put_dec((uint64_t)v);
        break;
      }
      case 'u': put_dec(is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned)); break;
      case 'x': put_hex(is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned)); break;
      case '%': putc('%'); break;
      default: putc('?'); break;
    }
  }
  va_end(ap);
}

void* memset(void* dst, int c, uint64_t n) {
  uint8_t* d = dst;
  while (n--) *d++ = (uint8_t)c;
  return dst;
}
void* memcpy(void* dst, const void* src, uint64_t n) {
  uint8_t* d = dst;
  const uint8_t* s = src;
  while (n--) *d++ = *s++;
  return dst;
}
int memcmp(const void* a, const void* b, uint64_t n) {
  const uint8_t *x = a, *y = b;
  for (; n; --n, ++x, ++y)
    if (*x != *y) return *x - *y;
  return 0;
}
uint64_t strlen(const char* s) {
  uint64_t n = 0;
  while (s[n]) ++n;
  return n;
}

// ---------------------------------------------------------------- ACPI

uint64_t acpi_find_table(const char sig[4]) {
  if (!info.rsdp) return 0;
  const uint8_t* rsdp = (const uint8_t*)info.rsdp;
  if (memcmp(rsdp, "RSD PTR ", 8) != 0) return 0;
  uint64_t xsdt = *(const uint64_t*)(rsdp + 24);
  if (!xsdt) return 0;
  uint32_t len = *(const uint32_t*)(xsdt + 4);
  for (uint32_t off = 36; off + 8 <= len; off += 8) {
    uint64_t t = *(const uint64_t*)(xsdt + off);
    if (memcmp((const void*)t, sig, 4) == 0) return t;
  }
  return 0;
}

int acpi_count_cpus(void) {
  uint64_t madt = acpi_find_table("APIC");
  if (!madt) return 0;
  uint32_t len = *(const uint32_t*)(madt + 4);
  int n = 0;
  for (uint32_t off = 44; off + 2 <= len;) {
    const uint8_t* e = (const uint8_t*)(madt + off);
    if (e[1] < 2) break;
    if (e[0] == 0 && (*(const uint32_t*)(e + 4) & 1)) ++n;
    off += e[1];
  }
  return n;
}
