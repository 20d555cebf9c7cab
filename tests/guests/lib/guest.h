// The tiny runtime of vessel's test-kit guests: port and MMIO access, serial output on COM1,
// boot information, ring-3 execution (fast on PVM hosts), and exit through vessel's debug exit
// port. Programs define `int main(void)`; its return value becomes the VMM's exit code.
#pragma once

#include <stdint.h>

#define GUEST_DEBUG_EXIT_PORT 0xf4  // write a byte: the VMM exits with that code (docs/vmm/boot.md)
#define GUEST_COM1 0x3f8

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint32_t inl(uint16_t port) {
  uint32_t v;
  __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t*)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t v) { *(volatile uint32_t*)addr = v; }
static inline uint8_t mmio_read8(uint64_t addr) { return *(volatile uint8_t*)addr; }
static inline void mmio_write8(uint64_t addr, uint8_t v) { *(volatile uint8_t*)addr = v; }
static inline void cpu_relax(void) { __asm__ volatile("pause"); }
static inline void barrier(void) { __asm__ volatile("mfence" ::: "memory"); }

void putc(char c);
void puts(const char* s);  // no newline added
void put_dec(uint64_t v);
void put_hex(uint64_t v);
// A minimal printf: %s %d %u %x %lx %lu %ld %c %%.
void printf(const char* fmt, ...);

void* memset(void* dst, int c, uint64_t n);
void* memcpy(void* dst, const void* src, uint64_t n);
int memcmp(const void* a, const void* b, uint64_t n);
uint64_t strlen(const char* s);

__attribute__((noreturn)) void poweroff(int code);

// How the guest was booted, and what the VMM told it.
enum boot_kind { BOOT_PVH = 1, BOOT_FLAT64 = 2 };
struct boot_info {
  int kind;
  const char* cmdline;   // may be ""
  uint64_t rsdp;         // ACPI RSDP physical address, 0 when none given
  uint64_t ram_bytes;    // sum of usable (type 1) memory map entries
  uint32_t mem_entries;  // number of memory map entries
};
const struct boot_info* boot_info(void);
// The command line's KEY=NUMBER (decimal; `def` when absent) and whole-word flags.
uint64_t cmdline_u64(const char* key, uint64_t def);
int cmdline_has_word(const char* w);

// Runs fn(arg) in ring 3 (IOPL 3, so port I/O works there) on its own stack and returns its
// result. On PVM hosts ring-3 code runs natively while ring-0 code is emulated.
uint64_t run_user(uint64_t (*fn)(void* arg), void* arg);

// ACPI: finds a table by signature through the RSDP/XSDT; 0 when absent.
uint64_t acpi_find_table(const char sig[4]);
// Number of enabled local APICs in the MADT (0 without ACPI).
int acpi_count_cpus(void);

uint64_t rdtsc(void);

// Starts every other CPU (APIC ids 0..cpus-1) through INIT-SIPI-SIPI; each runs a trampoline
// into long mode and checks in. Returns the number of CPUs online (BSP included) when all have
// checked in or timeout_cycles (TSC) have passed.
int smp_start_aps(int cpus, uint64_t timeout_cycles);
uint32_t smp_ap_apic_id(int index);  // APIC id reported by the index-th AP to check in

// A #UD at this address (a 2-byte ud2) is counted in guest_ud_count and skipped.
extern uint64_t guest_ud_resume;
extern volatile int guest_ud_count;
// Installs an interrupt gate (kernel code segment) for `vector` with privilege `dpl`.
void set_gate(int vector, void* handler, int dpl);
