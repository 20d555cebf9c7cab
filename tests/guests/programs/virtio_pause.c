// virtio-blk under VM pause/resume: from ring 3, writes 4 KiB blocks with a per-round pattern and
// reads each back, for `rounds=N` rounds (command line). The host pauses and resumes the VM in
// the middle (tests/integration/virtio): no request may be lost or corrupted across it.
#include "virtio_guest.h"

static uint8_t wbuf[4096] __attribute__((aligned(4096)));
static uint8_t rbuf[4096] __attribute__((aligned(4096)));
static struct vqueue q;

static uint64_t rounds_arg(void) {
  const char* s = boot_info()->cmdline;
  for (; *s; ++s) {
    if (memcmp(s, "rounds=", 7)) continue;
    uint64_t v = 0;
    for (s += 7; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (uint64_t)(*s - '0');
    return v;
  }
  return 4000;
}

static uint64_t io_loop(void* arg) {
  uint64_t rounds = (uint64_t)arg, bad = 0;
  for (uint64_t i = 0; i < rounds; ++i) {
    for (int k = 0; k < 4096; ++k) wbuf[k] = (uint8_t)(i * 31 + k);
    uint64_t sector = (i % 64) * 8;
    if (vblk_request(&q, VBLK_T_OUT, sector, wbuf, 4096, 0) != 0) bad++;
    if (vblk_request(&q, VBLK_T_IN, sector, rbuf, 4096, 1) != 0) bad++;
    else if (memcmp(wbuf, rbuf, 4096)) bad++;
  }
  return bad;
}

int main(void) {
  uint64_t base = virtio_find(2);
  if (!base || virtio_start(&q, base, VF_VERSION_1)) return 10;
  q.avail->flags = 1;  // we poll
  uint64_t rounds = rounds_arg();
  uint64_t bad = run_user(io_loop, (void*)rounds);
  printf("pause-io: rounds=%lu bad=%lu\n", rounds, bad);
  return bad ? 1 : 0;
}
