// virtio-blk at queue depth N from guest ring 3 (native speed on PVM hosts), polling the used
// ring (requests complete in any order: the used element's id names the slot).
//   mode=bench   random reads, then random writes, of bs bytes over the span
//   mode=verify  every block of the span written once in shuffled order at depth N (a fresh
//                qcow2 overlay allocates clusters concurrently), then read back and checked
// Command line: qd=N (1..16) bs=BYTES (512..65536) ops=N span_mib=M mode=bench|verify seed=S.
// Prints "qd <phase> depth=.. bs=.. ops=.. bytes=.. cycles=.. errors=.." per phase. Block b
// holds the 64-bit words b * 0x9E3779B97F4A7C15 + i (tests/integration/virtio checks it on the
// host). Runs unchanged on QEMU microvm (bench/virtio).
#include "virtio_guest.h"

#define MAX_QD 16
#define MAX_BS (64 * 1024)
#define MAX_BLOCKS 16384

static uint8_t bufs[MAX_QD][MAX_BS] __attribute__((aligned(4096)));
static struct vblk_header hdrs[MAX_QD] __attribute__((aligned(16)));
static volatile uint8_t statuses[MAX_QD];
static uint32_t slot_block[MAX_QD];
static uint32_t order[MAX_BLOCKS];
static struct vqueue q;
static uint64_t depth, bs, ops, blocks, verify, rng = 88172645463325252ull;

struct phase {
  const char* name;
  uint64_t ops, cycles, errors;
};
static struct phase phases[2];
static int nphases;

static uint64_t xorshift(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void fill(uint64_t* w, uint64_t block) {
  for (uint64_t i = 0; i < bs / 8; ++i) w[i] = block * 0x9E3779B97F4A7C15ull + i;
}
static int check(const uint64_t* w, uint64_t block) {
  for (uint64_t i = 0; i < bs / 8; ++i)
    if (w[i] != block * 0x9E3779B97F4A7C15ull + i) return 0;
  return 1;
}

static void start(int slot, uint32_t type, uint32_t block) {
  uint16_t d = (uint16_t)(slot * 3);
  slot_block[slot] = block;
  if (type == VBLK_T_OUT && verify) fill((uint64_t*)bufs[slot], block);
  hdrs[slot].type = type;
  hdrs[slot].reserved = 0;
  hdrs[slot].sector = (uint64_t)block * (bs / 512);
  statuses[slot] = 0xff;
  vq_set(&q, d, (uint64_t)&hdrs[slot], 16, VDESC_NEXT, d + 1);
  vq_set(&q, d + 1, (uint64_t)bufs[slot], (uint32_t)bs, VDESC_NEXT | (type == VBLK_T_IN ? VDESC_WRITE : 0), d + 2);
  vq_set(&q, d + 2, (uint64_t)&statuses[slot], 1, VDESC_WRITE, 0);
  vq_submit(&q, d);
}

static int wait_any(void) {
  for (uint64_t i = 0; i < 4000000000ull; ++i) {
    if (*(volatile uint16_t*)&q.used->idx != q.used_seen) {
      barrier();
      struct vused_elem e = q.used->ring[q.used_seen % VQ_SIZE];
      q.used_seen++;
      return e.id / 3 < depth ? (int)(e.id / 3) : -1;
    }
    cpu_relax();
  }
  return -1;
}

static void run_phase(const char* name, uint32_t type, uint64_t n) {
  struct phase* p = &phases[nphases++];
  p->name = name;
  p->ops = n;
  uint64_t issued = 0, done = 0, t0 = rdtsc();
  for (uint64_t s = 0; s < depth && issued < n; ++s, ++issued)
    start((int)s, type, verify ? order[issued] : (uint32_t)(xorshift() % blocks));
  while (done < n) {
    int s = wait_any();
    if (s < 0) {
      p->errors += n - done;
      break;
    }
    if (statuses[s] != 0) p->errors++;
    else if (type == VBLK_T_IN && verify && !check((uint64_t*)bufs[s], slot_block[s])) p->errors++;
    ++done;
    if (issued < n) {
      start(s, type, verify ? order[issued] : (uint32_t)(xorshift() % blocks));
      ++issued;
    }
  }
  p->cycles = rdtsc() - t0;
}

// Leaving ring 3 takes an INT that PVM's emulator cannot run: like virtio_bench, end with ud2
// and let our #UD handler (ring 0) print and power off.
static void __attribute__((noreturn, used)) finish(void) {
  int errors = 0;
  for (int i = 0; i < nphases; ++i) {
    printf("qd %s depth=%lu bs=%lu ops=%lu bytes=%lu cycles=%lu errors=%lu\n", phases[i].name, depth, bs,
           phases[i].ops, phases[i].ops * bs, phases[i].cycles, phases[i].errors);
    errors += phases[i].errors != 0;
  }
  poweroff(errors ? 20 : 0);
}
__asm__(".text\n.globl qd_ud_entry\nqd_ud_entry:\n  and $-16, %rsp\n  call finish\n");
extern char qd_ud_entry[];

static void hook_invalid_opcode(void) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } idtr;
  __asm__ volatile("sidt %0" : "=m"(idtr));
  uint8_t* gate = (uint8_t*)idtr.base + 16 * 6;
  uint64_t h = (uint64_t)qd_ud_entry;
  *(uint16_t*)(gate + 0) = (uint16_t)h;
  *(uint16_t*)(gate + 6) = (uint16_t)(h >> 16);
  *(uint32_t*)(gate + 8) = (uint32_t)(h >> 32);
}

static uint64_t all(void* unused) {
  (void)unused;
  if (verify) {
    run_phase("write-all", VBLK_T_OUT, blocks);
    run_phase("read-verify", VBLK_T_IN, blocks);
  } else {
    run_phase("warmup", VBLK_T_IN, ops / 10 + 1);
    nphases = 0;
    run_phase("randread", VBLK_T_IN, ops);
    run_phase("randwrite", VBLK_T_OUT, ops);
  }
  __asm__ volatile("ud2");
  return 0;
}

int main(void) {
  uint64_t base = virtio_find(2);
  if (!base || virtio_start(&q, base, VF_VERSION_1 | VBLK_F_FLUSH)) {
    puts("qd: no usable virtio-blk device\n");
    return 10;
  }
  depth = cmdline_u64("qd", 8);
  bs = cmdline_u64("bs", 4096);
  ops = cmdline_u64("ops", 2000);
  verify = cmdline_has_word("mode=verify");
  rng ^= cmdline_u64("seed", 1) * 0x9E3779B97F4A7C15ull;
  if (depth < 1 || depth > MAX_QD || bs < 512 || bs > MAX_BS || bs % 512) {
    puts("qd: bad qd= or bs=\n");
    return 11;
  }
  blocks = (cmdline_u64("span_mib", 32) << 20) / bs;
  uint64_t capacity_blocks = vblk_capacity(base) * 512 / bs;
  if (blocks > capacity_blocks) blocks = capacity_blocks;
  if (blocks > MAX_BLOCKS) blocks = MAX_BLOCKS;
  if (blocks == 0) return 12;
  for (uint64_t i = 0; i < blocks; ++i) order[i] = (uint32_t)i;
  for (uint64_t i = blocks - 1; i > 0; --i) {  // Fisher-Yates
    uint64_t j = xorshift() % (i + 1);
    uint32_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  printf("qd: depth=%lu bs=%lu blocks=%lu mode=%s\n", depth, bs, blocks, verify ? "verify" : "bench");
  if (!cmdline_u64("interrupts", 0)) *(volatile uint16_t*)&q.avail->flags = 1;  // we poll
  hook_invalid_opcode();
  run_user(all, 0);
  return 13;
}
