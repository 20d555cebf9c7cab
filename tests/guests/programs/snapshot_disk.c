// For vesseld's named snapshots (tests/integration/daemon/vm_snapshot_test.cc): counts in memory
// and keeps the count on its disk too. At every tick it reads sector 0, checks that it holds the
// count memory says it wrote last, writes the new count there, flushes and prints "tick N". A VM
// put back to a snapshot whose disk is not of the same instant as its memory (a later or an
// earlier count on the disk) prints "bad: ..." and exits 1. Runs to "ticks=N" (default 1000000).
#include "virtio_guest.h"

#define MAGIC 0x4b534944504e5356ull  // "VSNPDISK"

struct marker {
  uint64_t magic;
  uint64_t count;
};

static uint8_t sector[512] __attribute__((aligned(4096)));
static volatile uint64_t written;  // the count memory says is on the disk

static uint64_t count_chunk(void* arg) {
  volatile uint64_t inner;
  for (inner = 0; inner < (1u << 25); ++inner) {
  }
  return (uint64_t)arg + 1;
}

static int read_marker(struct vqueue* q, uint64_t* count) {
  if (vblk_request(q, VBLK_T_IN, 0, sector, sizeof sector, 1) != 0) return -1;
  struct marker m;
  memcpy(&m, sector, sizeof m);
  *count = m.magic == MAGIC ? m.count : 0;
  return 0;
}

static int write_marker(struct vqueue* q, uint64_t count) {
  struct marker m = {MAGIC, count};
  memset(sector, 0, sizeof sector);
  memcpy(sector, &m, sizeof m);
  if (vblk_request(q, VBLK_T_OUT, 0, sector, sizeof sector, 0) != 0) return -1;
  return vblk_request(q, VBLK_T_FLUSH, 0, 0, 0, 0);
}

int main(void) {
  uint64_t ticks = cmdline_u64("ticks", 1000000);
  uint64_t base = virtio_find(2);
  if (!base) {
    puts("snapshot_disk: no virtio-blk device\n");
    return 10;
  }
  struct vqueue q;
  if (virtio_start(&q, base, VF_VERSION_1 | VBLK_F_FLUSH) != 0) {
    puts("snapshot_disk: virtio start failed\n");
    return 11;
  }
  uint64_t n = 0, on_disk = 0;
  if (read_marker(&q, &on_disk) != 0) return 12;
  written = on_disk;
  n = on_disk;
  printf("snapshot_disk: starting from %lu\n", n);
  while (n < ticks) {
    n = run_user(count_chunk, (void*)n);
    if (read_marker(&q, &on_disk) != 0) return 13;
    if (on_disk != written) {
      printf("bad: the disk holds %lu, memory says %lu\n", on_disk, written);
      return 1;
    }
    if (write_marker(&q, n) != 0) return 14;
    written = n;
    printf("tick %lu\n", n);
  }
  printf("done %lu\n", n);
  return 0;
}
