// virtio benchmarks from guest ring 3 (native speed on PVM hosts), on the first virtio-blk disk:
//   doorbell: QueueNotify writes alone (each one an ioeventfd exit): the floor of a notification
//   notify: round trips of a GET_ID request (doorbell -> device thread -> used ring), no disk I/O
//   read/write: 64 KiB requests at queue depth 1 over the first 32 MiB of the disk
// Prints "bench <name> ops=<n> bytes=<b> cycles=<tsc cycles>"; bench/virtio/ converts cycles to
// time with the host's TSC rate. Runs unchanged on QEMU microvm (virtio_guest.h scans both).
#include "virtio_guest.h"

#define CHUNK (64 * 1024)
static uint8_t data[CHUNK] __attribute__((aligned(4096)));
static char id[20];
static struct vqueue q;

struct job {
  int kind;  // 0 notify, 1 read, 2 write, 3 doorbell
  uint64_t ops;
  uint64_t sectors;  // disk span used, in sectors
  uint64_t errors;
};

static uint64_t run(void* arg) {
  struct job* j = arg;
  uint64_t t0 = rdtsc();
  for (uint64_t i = 0; i < j->ops; ++i) {
    int st;
    if (j->kind == 3) {
      vwrite(q.base, VREG_QUEUE_NOTIFY, 0);
      continue;
    } else if (j->kind == 0) {
      st = vblk_request(&q, VBLK_T_GET_ID, 0, id, sizeof id, 1);
    } else {
      uint64_t sector = (i * (CHUNK / 512)) % j->sectors;
      st = vblk_request(&q, j->kind == 1 ? VBLK_T_IN : VBLK_T_OUT, sector, data, CHUNK, j->kind == 1);
    }
    if (st != 0) j->errors++;
  }
  return rdtsc() - t0;
}

static uint64_t arg_u64(const char* key, uint64_t def) {
  const char* s = boot_info()->cmdline;
  uint64_t n = strlen(key);
  for (; *s; ++s) {
    if (memcmp(s, key, n) || s[n] != '=') continue;
    uint64_t v = 0;
    for (s += n + 1; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (uint64_t)(*s - '0');
    return v;
  }
  return def;
}

static uint64_t notify_ops, io_ops, span;
static struct job results[4];
static uint64_t result_cycles[4];

// Leaving ring 3 normally takes an INT, which KVM's emulator cannot run on PVM hosts (QEMU stops
// there), and port I/O from ring 3 faults under PVM. So the ring-3 part ends with ud2, and our
// own #UD handler (ring 0) prints the results and powers off. It never returns: no iret needed.
static void __attribute__((noreturn, used)) finish(void) {
  const char* names[4] = {"notify", "read", "write", "doorbell"};
  int errors = 0;
  for (int k = 0; k < 4; ++k) {
    printf("bench %s ops=%lu bytes=%lu cycles=%lu errors=%lu\n", names[k], results[k].ops,
           k == 1 || k == 2 ? results[k].ops * CHUNK : 0, result_cycles[k], results[k].errors);
    errors += results[k].errors != 0;
  }
  poweroff(errors);
}
__asm__(".text\n.globl bench_ud_entry\nbench_ud_entry:\n  and $-16, %rsp\n  call finish\n");
extern char bench_ud_entry[];

static void hook_invalid_opcode(void) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } idtr;
  __asm__ volatile("sidt %0" : "=m"(idtr));
  uint8_t* gate = (uint8_t*)idtr.base + 16 * 6;
  uint64_t h = (uint64_t)bench_ud_entry;
  *(uint16_t*)(gate + 0) = (uint16_t)h;
  *(uint16_t*)(gate + 6) = (uint16_t)(h >> 16);
  *(uint32_t*)(gate + 8) = (uint32_t)(h >> 32);
}

static uint64_t all(void* unused) {
  (void)unused;
  uint64_t ops[4] = {notify_ops, io_ops, io_ops, notify_ops};
  for (int k = 0; k < 4; ++k) {
    struct job warm = {k, ops[k] / 10 + 1, span, 0};
    run(&warm);
    results[k] = (struct job){k, ops[k], span, 0};
    result_cycles[k] = run(&results[k]);
  }
  __asm__ volatile("ud2");
  return 0;
}

int main(void) {
  uint64_t base = virtio_find(2);
  if (!base || virtio_start(&q, base, VF_VERSION_1 | VBLK_F_FLUSH)) {
    puts("bench: no usable virtio-blk device\n");
    return 10;
  }
  span = vblk_capacity(base);
  if (span > 65536) span = 65536;  // 32 MiB
  span -= span % (CHUNK / 512);
  if (span == 0) return 11;
  // We poll the used ring: tell the device not to interrupt (both VMMs honour the flag), so the
  // figures measure the notification path, not interrupt injection into a guest with IF=0.
  if (!arg_u64("interrupts", 0)) *(volatile uint16_t*)&q.avail->flags = 1;
  // "always_notify=1": ring the doorbell on every request even when the device polls.
  vq_always_notify = (int)arg_u64("always_notify", 0);
  notify_ops = arg_u64("notify_ops", 20000);
  io_ops = arg_u64("io_ops", 1024);
  hook_invalid_opcode();
  run_user(all, 0);
  return 12;  // not reached: finish() powers off
}
