// virtio-net through the test kit's own driver: two queues (rx 0, tx 1) on static rings.
//   mode=echo (default): sends a known frame (ethertype 0x88b5), waits for the host's reply
//     frame (addressed to our MAC, header + frame, num_buffers checked), sends its payload back.
//   mode=malformed: broken tx chains (oversized, writable buffer, short, bad gso), then one good
//     frame; the host checks the VMM survives with each counted.
//   mode=flood frames=N: N frames of 1500 bytes as fast as the device takes them (bench/net).
// Exit status 0 on success, >= 10 names the step that failed.
#include "virtio_guest.h"

#define NQ 64
#define ETHERTYPE 0x88b5
#define VNET_F_MAC (1ull << 5)
#define VNET_F_MRG_RXBUF (1ull << 15)
#define VNET_F_STATUS (1ull << 16)
#define HDR 12
#define RXBUF 2048

struct ring {
  struct vdesc desc[NQ];
  uint8_t pad0[4096 - sizeof(struct vdesc) * NQ];
  struct { uint16_t flags, idx, ring[NQ], used_event; } avail;
  uint8_t pad1[4096 - 6 - 2 * NQ];
  struct { uint16_t flags, idx; struct vused_elem ring[NQ]; uint16_t avail_event; } used;
} __attribute__((aligned(4096)));

static struct ring rings[2];
static uint16_t avail_idx[2], used_seen[2];
static uint8_t rxbufs[NQ][RXBUF] __attribute__((aligned(64)));
static uint8_t txbufs[NQ][RXBUF] __attribute__((aligned(64)));
static uint8_t big[70000] __attribute__((aligned(64)));
static uint64_t base;
static uint8_t mac[6];

static void setup_queue(uint32_t q) {
  vwrite(base, VREG_QUEUE_SEL, q);
  vwrite(base, VREG_QUEUE_NUM, NQ);
  uint64_t d = (uint64_t)&rings[q].desc, a = (uint64_t)&rings[q].avail, u = (uint64_t)&rings[q].used;
  vwrite(base, VREG_QUEUE_DESC_LOW, (uint32_t)d);
  vwrite(base, VREG_QUEUE_DESC_HIGH, (uint32_t)(d >> 32));
  vwrite(base, VREG_QUEUE_DRIVER_LOW, (uint32_t)a);
  vwrite(base, VREG_QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
  vwrite(base, VREG_QUEUE_DEVICE_LOW, (uint32_t)u);
  vwrite(base, VREG_QUEUE_DEVICE_HIGH, (uint32_t)(u >> 32));
  vwrite(base, VREG_QUEUE_READY, 1);
}

static void set_desc(int q, uint16_t i, void* addr, uint32_t len, uint16_t flags, uint16_t next) {
  rings[q].desc[i].addr = (uint64_t)addr;
  rings[q].desc[i].len = len;
  rings[q].desc[i].flags = flags;
  rings[q].desc[i].next = next;
}

static void submit(int q, uint16_t head, int notify) {
  rings[q].avail.ring[avail_idx[q] % NQ] = head;
  barrier();
  avail_idx[q]++;
  *(volatile uint16_t*)&rings[q].avail.idx = avail_idx[q];
  barrier();
  if (notify) vwrite(base, VREG_QUEUE_NOTIFY, q);
}

// Next used element of queue q, or -1 after `spins`.
static int wait_used(int q, uint64_t spins, struct vused_elem* out) {
  for (uint64_t i = 0; i < spins; ++i) {
    if (*(volatile uint16_t*)&rings[q].used.idx != used_seen[q]) {
      barrier();
      *out = rings[q].used.ring[used_seen[q] % NQ];
      used_seen[q]++;
      return 0;
    }
    cpu_relax();
  }
  return -1;
}

static uint32_t make_frame(uint8_t* at, const uint8_t* dst, const char* tag, uint32_t payload) {
  memset(at, 0, HDR);
  uint8_t* f = at + HDR;
  memcpy(f, dst, 6);
  memcpy(f + 6, mac, 6);
  f[12] = ETHERTYPE >> 8;
  f[13] = ETHERTYPE & 0xff;
  uint32_t n = strlen(tag);
  memcpy(f + 14, tag, n);
  for (uint32_t i = n; i < payload; ++i) f[14 + i] = (uint8_t)(i * 3 + 1);
  return HDR + 14 + payload;
}

static int send_good(uint16_t slot, const char* tag, uint32_t payload) {
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  uint32_t len = make_frame(txbufs[slot], bcast, tag, payload);
  set_desc(1, slot, txbufs[slot], len, 0, 0);
  submit(1, slot, 1);
  struct vused_elem e;
  return wait_used(1, 2000000000ull, &e);
}

static int start(void) {
  base = virtio_find(1);
  if (!base) return 10;
  uint64_t want = VF_VERSION_1 | VNET_F_MAC | VNET_F_STATUS | (cmdline_has_word("mrg") ? VNET_F_MRG_RXBUF : 0);
  if (!(virtio_negotiate(base, want) & VSTATUS_FEATURES_OK)) return 11;
  if (vread(base, VREG_QUEUE_NUM_MAX) < NQ) return 12;
  setup_queue(0);
  setup_queue(1);
  vwrite(base, VREG_STATUS, VSTATUS_ACK | VSTATUS_DRIVER | VSTATUS_FEATURES_OK | VSTATUS_DRIVER_OK);
  for (int i = 0; i < 6; ++i) mac[i] = mmio_read8(base + VREG_CONFIG + i);
  uint16_t status = (uint16_t)(mmio_read8(base + VREG_CONFIG + 6) | mmio_read8(base + VREG_CONFIG + 7) << 8);
  printf("virtio-net: mac %x:%x:%x:%x:%x:%x link %d\n", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], status & 1);
  return (status & 1) ? 0 : 13;
}

static int echo(void) {
  // Receive buffers: 2048 bytes each, or 256 with mergeable buffers so the reply spans several.
  uint32_t rxlen = cmdline_has_word("mrg") ? 256 : RXBUF;
  for (uint16_t i = 0; i < 16; ++i) {
    set_desc(0, i, rxbufs[i], rxlen, VDESC_WRITE, 0);
    submit(0, i, i == 15);
  }
  if (send_good(0, "vessel-net-guest", 200)) return 20;
  // The host's reply: skip the host's own chatter (other ethertypes).
  for (int tries = 0; tries < 64; ++tries) {
    struct vused_elem e;
    if (wait_used(0, 20000000000ull, &e)) return 21;
    uint8_t* first = rxbufs[e.id];
    uint16_t nbuf = (uint16_t)(first[10] | first[11] << 8);
    // Gather the frame from its nbuf chains (the first is this one).
    static uint8_t frame[8192];
    uint32_t got = e.len;
    memcpy(frame, first, e.len);
    uint16_t ids[16] = {(uint16_t)e.id};
    for (uint16_t k = 1; k < nbuf && k < 16; ++k) {
      if (wait_used(0, 2000000000ull, &e)) return 22;
      memcpy(frame + got, rxbufs[e.id], e.len);
      got += e.len;
      ids[k] = (uint16_t)e.id;
    }
    for (uint16_t k = 0; k < nbuf && k < 16; ++k) submit(0, ids[k], 1);  // recycle
    uint8_t* f = frame + HDR;
    if (got < HDR + 14 || f[12] != (ETHERTYPE >> 8) || f[13] != (ETHERTYPE & 0xff)) continue;
    if (memcmp(f, mac, 6) != 0) return 23;
    if (memcmp(f + 14, "vessel-net-host", 15) != 0) return 24;
    uint32_t payload = got - HDR - 14;
    printf("virtio-net: reply of %d bytes in %d buffers\n", (int)payload, (int)nbuf);
    // Echo its payload back, tagged.
    uint32_t len = make_frame(txbufs[1], f + 6, "vessel-net-echo", payload);
    memcpy(txbufs[1] + HDR + 14 + 15, f + 14 + 15, payload - 15);
    set_desc(1, 1, txbufs[1], len, 0, 0);
    submit(1, 1, 1);
    if (wait_used(1, 2000000000ull, &e)) return 25;
    puts("virtio-net: echo ok\n");
    return 0;
  }
  return 26;
}

static int malformed(void) {
  struct vused_elem e;
  // Oversized: 70000 readable bytes.
  memset(big, 0, sizeof big);
  set_desc(1, 0, big, sizeof big, 0, 0);
  submit(1, 0, 1);
  // A device-writable buffer in a tx chain.
  set_desc(1, 1, txbufs[1], 100, VDESC_NEXT, 2);
  set_desc(1, 2, txbufs[2], 100, VDESC_WRITE, 0);
  submit(1, 1, 1);
  // Header only.
  set_desc(1, 3, txbufs[3], HDR, 0, 0);
  submit(1, 3, 1);
  // Unknown gso type.
  memset(txbufs[4], 0, 200);
  txbufs[4][1] = 9;
  set_desc(1, 4, txbufs[4], 200, 0, 0);
  submit(1, 4, 1);
  // Buffer outside RAM.
  set_desc(1, 5, (void*)0x7fff0000000ull, 100, 0, 0);
  submit(1, 5, 1);
  for (int i = 0; i < 5; ++i)
    if (wait_used(1, 2000000000ull, &e) || e.len != 0) return 30;
  if (vread(base, VREG_STATUS) & VSTATUS_NEEDS_RESET) return 31;
  if (send_good(6, "vessel-net-after", 100)) return 32;
  puts("virtio-net: malformed frames answered, device alive\n");
  return 0;
}

static int flood(void) {
  uint64_t frames = cmdline_u64("frames", 10000);
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  for (uint16_t i = 0; i < NQ; ++i) make_frame(txbufs[i], bcast, "vessel-net-flood", 1500 - 14);
  uint64_t sent = 0, done = 0;
  struct vused_elem e;
  while (done < frames) {
    int batch = 0;
    while (sent < frames && sent - done < NQ) {
      uint16_t slot = (uint16_t)(sent % NQ);
      set_desc(1, slot, txbufs[slot], HDR + 1500, 0, 0);
      submit(1, slot, 0);
      ++sent;
      ++batch;
    }
    if (batch) vwrite(base, VREG_QUEUE_NOTIFY, 1);
    if (wait_used(1, 50000000000ull, &e)) return 40;
    ++done;
    while (done < sent && *(volatile uint16_t*)&rings[1].used.idx != used_seen[1]) {
      used_seen[1]++;
      ++done;
    }
  }
  printf("virtio-net: flooded %d frames\n", (int)frames);
  return 0;
}

int main(void) {
  int r = start();
  if (r) return r;
  if (cmdline_has_word("mode=malformed")) return malformed();
  if (cmdline_has_word("mode=flood")) return flood();
  return echo();
}
