// virtio-rng: two requests return bytes that are not all zero and differ.
#include "virtio_guest.h"

static uint8_t a[64], b[64];

int main(void) {
  uint64_t base = virtio_find(4);
  if (!base) {
    puts("virtio-rng: no device\n");
    return 10;
  }
  struct vqueue q;
  if (virtio_start(&q, base, VF_VERSION_1)) return 11;
  vq_set(&q, 0, (uint64_t)a, sizeof a, VDESC_WRITE, 0);
  vq_submit(&q, 0);
  int64_t n1 = vq_wait(&q, 200000000ull);
  vq_set(&q, 1, (uint64_t)b, sizeof b, VDESC_WRITE, 0);
  vq_submit(&q, 1);
  int64_t n2 = vq_wait(&q, 200000000ull);
  if (n1 != 64 || n2 != 64) {
    printf("virtio-rng: got %ld and %ld bytes\n", n1, n2);
    return 12;
  }
  int nonzero = 0;
  for (int i = 0; i < 64; ++i) nonzero |= a[i];
  if (!nonzero || !memcmp(a, b, 64)) return 13;
  printf("virtio-rng: 128 random bytes, first %x %x %x %x\n", a[0], a[1], a[2], a[3]);
  return 0;
}
