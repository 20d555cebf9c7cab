// A hostile driver for virtio-blk: feeds the device broken rings and bad requests, checks that
// each bad request fails alone and each broken ring puts the device in NEEDS_RESET, that a reset
// brings it back, and that a good request works at the end. Exit code = number of failures.
// The host checks the VMM survived (exit code, metrics): tests/integration/virtio.
#include "virtio_guest.h"

static uint8_t buf[4096] __attribute__((aligned(4096)));
static struct vdesc indirect_table[4] __attribute__((aligned(16)));
static int failures;

static void check(const char* what, int ok) {
  printf("hostile %s: %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) failures++;
}

static void restart(struct vqueue* q, uint64_t base, uint64_t features) {
  if (virtio_start(q, base, features)) check("restart after reset", 0);
}

static uint64_t wanted = VF_VERSION_1 | VBLK_F_FLUSH | VF_INDIRECT_DESC;

int main(void) {
  uint64_t base = virtio_find(2);
  if (!base) {
    puts("hostile: no virtio-blk device\n");
    return 100;
  }
  struct vqueue q;
  restart(&q, base, wanted);
  uint64_t capacity = vblk_capacity(base);

  // --- bad requests: the request fails, the device carries on ---
  check("read past the end -> IOERR", vblk_request(&q, VBLK_T_IN, capacity, buf, 512, 1) == 1);
  check("sector overflow -> IOERR", vblk_request(&q, VBLK_T_IN, ~0ull, buf, 512, 1) == 1);
  check("unaligned length -> IOERR", vblk_request(&q, VBLK_T_IN, 0, buf, 100, 1) == 1);
  check("unknown type -> UNSUPP", vblk_request(&q, 77, 0, 0, 0, 0) == 2);
  check("read with device-readable data -> IOERR", vblk_request(&q, VBLK_T_IN, 0, buf, 512, 0) == 1);
  // Data buffer in the MMIO hole (not RAM): the chain is refused, used length 0.
  vq_set(&q, 0, (uint64_t)&vblk_hdr, 16, VDESC_NEXT, 1);
  vblk_hdr.type = VBLK_T_IN;
  vblk_hdr.sector = 0;
  vq_set(&q, 1, 0xF0000000ull, 4096, VDESC_NEXT | VDESC_WRITE, 2);
  vq_set(&q, 2, (uint64_t)&vblk_status, 1, VDESC_WRITE, 0);
  vq_submit(&q, 0);
  check("buffer outside RAM -> used len 0", vq_wait(&q, 200000000ull) == 0);
  // Buffer whose end wraps around 2^64.
  vq_set(&q, 1, 0xFFFFFFFFFFFFF000ull, 0x2000, VDESC_NEXT | VDESC_WRITE, 2);
  vq_submit(&q, 0);
  check("buffer wrapping 2^64 -> used len 0", vq_wait(&q, 200000000ull) == 0);
  check("device still serves good requests", vblk_request(&q, VBLK_T_IN, 0, buf, 512, 1) == 0);

  // --- broken rings: NEEDS_RESET, then a reset brings the device back ---
  vq_set(&q, 0, (uint64_t)buf, 16, VDESC_NEXT, 1);
  vq_set(&q, 1, (uint64_t)buf, 16, VDESC_NEXT, 0);
  vq_submit(&q, 0);
  check("descriptor loop -> NEEDS_RESET", virtio_wait_needs_reset(base, 200000000ull));
  check("config-change interrupt status", vread(base, VREG_INTERRUPT_STATUS) & 2);
  restart(&q, base, wanted);

  vq_set(&q, 0, (uint64_t)buf, 16, VDESC_NEXT, 999);
  vq_submit(&q, 0);
  check("next index out of range -> NEEDS_RESET", virtio_wait_needs_reset(base, 200000000ull));
  restart(&q, base, wanted);

  q.avail->ring[0] = 5000;  // head index beyond the queue
  q.avail_idx = 1;
  *(volatile uint16_t*)&q.avail->idx = 1;
  vwrite(base, VREG_QUEUE_NOTIFY, 0);
  check("head index out of range -> NEEDS_RESET", virtio_wait_needs_reset(base, 200000000ull));
  restart(&q, base, wanted);

  *(volatile uint16_t*)&q.avail->idx = 40000;  // far ahead of the device
  vwrite(base, VREG_QUEUE_NOTIFY, 0);
  check("avail index jump -> NEEDS_RESET", virtio_wait_needs_reset(base, 200000000ull));
  restart(&q, base, wanted);

  indirect_table[0] = (struct vdesc){(uint64_t)&vblk_hdr, 16, VDESC_NEXT, 1};
  indirect_table[1] = (struct vdesc){(uint64_t)indirect_table, 32, VDESC_INDIRECT, 0};
  vq_set(&q, 0, (uint64_t)indirect_table, 32, VDESC_INDIRECT, 0);
  vq_submit(&q, 0);
  check("nested indirect -> NEEDS_RESET", virtio_wait_needs_reset(base, 200000000ull));
  restart(&q, base, wanted);

  vq_set(&q, 0, (uint64_t)indirect_table, 24, VDESC_INDIRECT, 0);
  vq_submit(&q, 0);
  check("indirect table length 24 -> NEEDS_RESET", virtio_wait_needs_reset(base, 200000000ull));
  restart(&q, base, wanted & ~VF_INDIRECT_DESC);

  vq_set(&q, 0, (uint64_t)indirect_table, 32, VDESC_INDIRECT, 0);
  vq_submit(&q, 0);
  check("indirect not negotiated -> NEEDS_RESET", virtio_wait_needs_reset(base, 200000000ull));

  // Bad queue configurations are caught at QueueReady.
  virtio_negotiate(base, wanted);
  virtio_setup_queue_at(base, 100, (uint64_t)vq_desc_mem, (uint64_t)&vq_avail_mem, (uint64_t)&vq_used_mem);
  check("queue size 100 -> NEEDS_RESET", virtio_wait_needs_reset(base, 1000));
  virtio_negotiate(base, wanted);
  virtio_setup_queue_at(base, VQ_SIZE, 0xE0000000ull, (uint64_t)&vq_avail_mem, (uint64_t)&vq_used_mem);
  check("ring outside RAM -> NEEDS_RESET", virtio_wait_needs_reset(base, 1000));
  virtio_negotiate(base, wanted);
  virtio_setup_queue_at(base, VQ_SIZE, (uint64_t)vq_desc_mem + 8, (uint64_t)&vq_avail_mem, (uint64_t)&vq_used_mem);
  check("misaligned ring -> NEEDS_RESET", virtio_wait_needs_reset(base, 1000));
  check("no VERSION_1 -> FEATURES_OK refused",
        !(virtio_negotiate(base, VBLK_F_FLUSH) & VSTATUS_FEATURES_OK));

  // Garbage register traffic.
  for (uint32_t off = 0; off < 0x100; off += 4) vwrite(base, off == VREG_STATUS ? 0x0fc : off, 0xffffffff);
  mmio_write8(base + VREG_STATUS, 0xff);

  // A storm: break the ring and reset, over and over (the VMM must neither hang nor flood its log).
  int storm_ok = 1;
  for (int i = 0; i < 300 && storm_ok; ++i) {
    restart(&q, base, wanted);
    vq_set(&q, 0, (uint64_t)buf, 16, VDESC_NEXT, 0);  // self loop
    vq_submit(&q, 0);
    storm_ok = virtio_wait_needs_reset(base, 200000000ull);
  }
  check("300 break/reset cycles", storm_ok);

  restart(&q, base, wanted);
  check("good request after all of it", vblk_request(&q, VBLK_T_IN, 0, buf, 4096, 1) == 0);
  printf("hostile: %d failures\n", failures);
  return failures;
}
