// virtio-blk through the guest's own minimal driver: reads sectors the host pre-filled, writes a
// pattern the host checks after exit, flushes, reads it back, and prints the drive id. With
// "ro" on the command line it expects the disk to be read-only (writes fail with IOERR).
// Host side: tests/integration/virtio/virtio_guest_test.cc.
#include "virtio_guest.h"

static uint8_t buf[4096] __attribute__((aligned(4096)));

static int has_word(const char* s, const char* w) {
  uint64_t n = strlen(w);
  for (; *s; ++s)
    if ((s == boot_info()->cmdline || s[-1] == ' ') && !memcmp(s, w, n) && (s[n] == ' ' || !s[n]))
      return 1;
  return 0;
}

int main(void) {
  int read_only = has_word(boot_info()->cmdline, "ro");
  uint64_t base = virtio_find(2);
  if (!base) {
    puts("virtio-blk: no device\n");
    return 10;
  }
  struct vqueue q;
  int r = virtio_start(&q, base, VF_VERSION_1 | VBLK_F_FLUSH | VBLK_F_RO);
  if (r) {
    printf("virtio-blk: start failed %d\n", r);
    return 11;
  }
  uint64_t offered = virtio_device_features(base);
  printf("virtio-blk: capacity=%lu ro=%d flush=%d\n", vblk_capacity(base), (int)!!(offered & VBLK_F_RO),
         (int)!!(offered & VBLK_F_FLUSH));
  printf("virtio-blk: cmdline=[%s]\n", boot_info()->cmdline);

  // Sectors 0..7 hold byte i = (i * 7 + 3) & 0xff, written by the host.
  if (vblk_request(&q, VBLK_T_IN, 0, buf, sizeof buf, 1) != 0) return 12;
  for (int i = 0; i < 4096; ++i)
    if (buf[i] != (uint8_t)(i * 7 + 3)) {
      printf("virtio-blk: host data mismatch at %d\n", i);
      return 13;
    }
  puts("virtio-blk: read ok\n");

  for (int i = 0; i < 4096; ++i) buf[i] = (uint8_t)(i * 13 + 5);
  int st = vblk_request(&q, VBLK_T_OUT, 8, buf, sizeof buf, 0);
  if (read_only) {
    if (st != 1) {
      printf("virtio-blk: write on read-only disk returned %d, want IOERR\n", st);
      return 14;
    }
    puts("virtio-blk: read-only write refused\n");
  } else {
    if (st != 0) return 15;
    // A driver flushes only when the device offers it (cache_type Unsafe does not).
    if ((offered & VBLK_F_FLUSH) && vblk_request(&q, VBLK_T_FLUSH, 0, 0, 0, 0) != 0) return 16;
    memset(buf, 0, sizeof buf);
    if (vblk_request(&q, VBLK_T_IN, 8, buf, sizeof buf, 1) != 0) return 17;
    for (int i = 0; i < 4096; ++i)
      if (buf[i] != (uint8_t)(i * 13 + 5)) return 18;
    puts("virtio-blk: write+flush+readback ok\n");
  }

  char id[21];
  memset(id, 0, sizeof id);
  if (vblk_request(&q, VBLK_T_GET_ID, 0, id, 20, 1) != 0) return 19;
  printf("virtio-blk: id=%s\n", id);
  puts("virtio-blk: all ok\n");
  return 0;
}
