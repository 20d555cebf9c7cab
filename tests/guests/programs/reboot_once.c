// Reboots once, then exits 42: the first boot finds 0 in the first byte of its virtio-blk disk,
// writes 1 (flushed) and resets through the i8042; the second finds 1, writes 2 and exits. With
// vessel's on_reboot: restart the VMM boots it again in the same process.
// "wait=N": the first boot counts N steps of busy work ("reboot_once: waiting K") before the
// reset, so the host can snapshot it in between and load it in a new process.
// Host side: tests/integration/vmm/restart_test.cc.
#include "virtio_guest.h"

static uint8_t sector[512] __attribute__((aligned(512)));

static uint64_t spin_user(void* arg) {
  for (volatile uint64_t i = 0; i < (uint64_t)arg; ++i) {
  }
  return 1;
}

int main(void) {
  uint64_t base = virtio_find(2);
  struct vqueue q;
  if (!base || virtio_start(&q, base, VF_VERSION_1 | VBLK_F_FLUSH)) {
    puts("reboot_once: no virtio-blk disk\n");
    return 10;
  }
  if (vblk_request(&q, VBLK_T_IN, 0, sector, 512, 1) != 0) return 11;
  uint8_t boot = (uint8_t)(sector[0] + 1);
  printf("reboot_once: boot %d\n", boot);
  sector[0] = boot;
  if (vblk_request(&q, VBLK_T_OUT, 0, sector, 512, 0) != 0) return 12;
  if (vblk_request(&q, VBLK_T_FLUSH, 0, 0, 0, 0) != 0) return 13;
  if (boot == 1) {
    uint64_t steps = cmdline_u64("wait", 0);
    for (uint64_t k = 1; k <= steps; ++k) {
      run_user(spin_user, (void*)(1ull << 27));  // ring 3: supervisor-mode loops crawl under PVM
      printf("reboot_once: waiting %lu\n", k);
    }
    outb(0x64, 0xfe);  // i8042 reset
    puts("reboot_once: still alive after reset\n");
    return 14;
  }
  return boot == 2 ? 42 : 15;
}
