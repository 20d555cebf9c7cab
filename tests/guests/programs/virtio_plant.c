// A guest that attacks its host through its own disk (docs/threat-model.md, gap 5). "plant
// from=S count=N" copies N sectors starting at sector S to sector 0 with its own writes and
// flushes: the host left a qcow2 header there that names a host file as its backing file, so the
// guest's raw disk now starts with it. "dump" prints the first 64 bytes of the disk (printable
// characters, others as '.'): on a VMM that probes the format at the next start, they are the
// host file's. Host side: tests/integration/virtio/virtio_guest_test.cc.
#include "virtio_guest.h"

static uint8_t buf[4096] __attribute__((aligned(4096)));

int main(void) {
  struct vqueue q;
  uint64_t base = virtio_find(2);
  if (!base || virtio_start(&q, base, VF_VERSION_1 | VBLK_F_FLUSH)) {
    puts("plant: no usable virtio-blk device\n");
    return 10;
  }
  if (cmdline_has_word("plant")) {
    uint64_t from = cmdline_u64("from", 0), count = cmdline_u64("count", 0);
    for (uint64_t done = 0; done < count; done += 8) {
      uint64_t n = count - done < 8 ? count - done : 8;
      if (vblk_request(&q, VBLK_T_IN, from + done, buf, (uint32_t)(n * 512), 1) != 0) return 11;
      if (vblk_request(&q, VBLK_T_OUT, done, buf, (uint32_t)(n * 512), 0) != 0) return 12;
    }
    if (vblk_request(&q, VBLK_T_FLUSH, 0, 0, 0, 0) != 0) return 13;
    printf("plant: wrote %lu sectors\n", count);
  }
  if (cmdline_has_word("dump")) {
    if (vblk_request(&q, VBLK_T_IN, 0, buf, 512, 1) != 0) return 14;
    puts("dump: [");
    for (int i = 0; i < 64; ++i) putc(buf[i] >= 32 && buf[i] < 127 ? (char)buf[i] : '.');
    puts("]\n");
  }
  return 0;
}
