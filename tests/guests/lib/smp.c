// Starts the application processors listed in the MADT (INIT-SIPI-SIPI through the xAPIC).
#include "guest.h"

extern char smp_trampoline_start[], smp_trampoline_end[], smp_trampoline_cr3[];

#define LAPIC 0xfee00000ull
#define TRAMPOLINE 0x8000ull

static volatile uint32_t aps_online;
static volatile uint32_t ap_apic_ids[64];

static uint32_t lapic_read(uint32_t reg) { return mmio_read32(LAPIC + reg); }
static void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(LAPIC + reg, v); }

void ap_main(uint32_t index) {
  uint32_t id = lapic_read(0x20) >> 24;
  if (index < 64) ap_apic_ids[index] = id;
  __atomic_add_fetch(&aps_online, 1, __ATOMIC_SEQ_CST);
}

static void send_ipi(uint32_t apic_id, uint32_t low) {
  lapic_write(0x310, apic_id << 24);
  lapic_write(0x300, low);
  while (lapic_read(0x300) & (1u << 12)) cpu_relax();  // delivery pending
}

int smp_start_aps(int cpus, uint64_t timeout_cycles) {
  uint64_t n = (uint64_t)(smp_trampoline_end - smp_trampoline_start);
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  memcpy((void*)TRAMPOLINE, smp_trampoline_start, n);
  *(uint64_t*)(TRAMPOLINE + (uint64_t)(smp_trampoline_cr3 - smp_trampoline_start)) = cr3;
  uint32_t self = lapic_read(0x20) >> 24;
  for (int id = 0; id < cpus; ++id) {
    if ((uint32_t)id == self) continue;
    send_ipi((uint32_t)id, 0x4500);                      // INIT
    send_ipi((uint32_t)id, 0x4600 | (TRAMPOLINE >> 12));  // SIPI
    send_ipi((uint32_t)id, 0x4600 | (TRAMPOLINE >> 12));
  }
  uint64_t start = rdtsc();
  while (aps_online < (uint32_t)(cpus - 1) && rdtsc() - start < timeout_cycles) cpu_relax();
  return (int)aps_online + 1;
}

uint32_t smp_ap_apic_id(int index) { return index < 64 ? ap_apic_ids[index] : 0; }
