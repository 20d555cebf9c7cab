// A minimal virtio-mmio (version 2) driver for test-kit guests: find a device, negotiate, set up
// one split queue, submit chains and poll the used ring (no interrupts needed). Used by the
// virtio_*.c programs. The guest identity-maps 4 GiB, so pointers are guest-physical addresses.
#pragma once

#include "guest.h"

#define VIRTIO_MMIO_BASE 0xD0000000ull
#define VIRTIO_MMIO_WINDOWS 8

#define VREG_MAGIC 0x000
#define VREG_VERSION 0x004
#define VREG_DEVICE_ID 0x008
#define VREG_DEVICE_FEATURES 0x010
#define VREG_DEVICE_FEATURES_SEL 0x014
#define VREG_DRIVER_FEATURES 0x020
#define VREG_DRIVER_FEATURES_SEL 0x024
#define VREG_QUEUE_SEL 0x030
#define VREG_QUEUE_NUM_MAX 0x034
#define VREG_QUEUE_NUM 0x038
#define VREG_QUEUE_READY 0x044
#define VREG_QUEUE_NOTIFY 0x050
#define VREG_INTERRUPT_STATUS 0x060
#define VREG_INTERRUPT_ACK 0x064
#define VREG_STATUS 0x070
#define VREG_QUEUE_DESC_LOW 0x080
#define VREG_QUEUE_DESC_HIGH 0x084
#define VREG_QUEUE_DRIVER_LOW 0x090
#define VREG_QUEUE_DRIVER_HIGH 0x094
#define VREG_QUEUE_DEVICE_LOW 0x0a0
#define VREG_QUEUE_DEVICE_HIGH 0x0a4
#define VREG_CONFIG 0x100

#define VSTATUS_ACK 1
#define VSTATUS_DRIVER 2
#define VSTATUS_DRIVER_OK 4
#define VSTATUS_FEATURES_OK 8
#define VSTATUS_NEEDS_RESET 0x40

#define VF_INDIRECT_DESC (1ull << 28)
#define VF_VERSION_1 (1ull << 32)

#define VDESC_NEXT 1
#define VDESC_WRITE 2
#define VDESC_INDIRECT 4

#define VQ_SIZE 64

struct vdesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
struct vavail {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[VQ_SIZE];
  uint16_t used_event;
};
struct vused_elem {
  uint32_t id;
  uint32_t len;
};
struct vused {
  uint16_t flags;
  uint16_t idx;
  struct vused_elem ring[VQ_SIZE];
  uint16_t avail_event;
};

struct vqueue {
  uint64_t base;  // MMIO window of the device
  struct vdesc* desc;
  struct vavail* avail;
  struct vused* used;
  uint16_t avail_idx;
  uint16_t used_seen;
};

static struct vdesc vq_desc_mem[VQ_SIZE] __attribute__((aligned(4096)));
static struct vavail vq_avail_mem __attribute__((aligned(4096)));
static struct vused vq_used_mem __attribute__((aligned(4096)));

static inline uint32_t vread(uint64_t base, uint32_t reg) { return mmio_read32(base + reg); }
static inline void vwrite(uint64_t base, uint32_t reg, uint32_t v) { mmio_write32(base + reg, v); }

// First window holding a virtio-mmio v2 device of `device_id`, 0 when none. Scans vessel-vmm's
// windows (4 KiB from 0xD0000000), then QEMU microvm's (512 bytes from 0xFEB00000) so the same
// guest runs on the peer for benchmarks.
static inline uint64_t virtio_find_in(uint64_t first, uint64_t stride, int count, uint32_t id) {
  for (int n = 0; n < count; ++n) {
    uint64_t base = first + stride * n;
    if (vread(base, VREG_MAGIC) == 0x74726976 && vread(base, VREG_VERSION) == 2 &&
        vread(base, VREG_DEVICE_ID) == id)
      return base;
  }
  return 0;
}
static inline uint64_t virtio_find(uint32_t device_id) {
  uint64_t base = virtio_find_in(VIRTIO_MMIO_BASE, 0x1000, VIRTIO_MMIO_WINDOWS, device_id);
  return base ? base : virtio_find_in(0xFEB00000ull, 0x200, 24, device_id);
}

static inline uint64_t virtio_device_features(uint64_t base) {
  vwrite(base, VREG_DEVICE_FEATURES_SEL, 0);
  uint64_t lo = vread(base, VREG_DEVICE_FEATURES);
  vwrite(base, VREG_DEVICE_FEATURES_SEL, 1);
  return lo | ((uint64_t)vread(base, VREG_DEVICE_FEATURES) << 32);
}

// Resets the device and negotiates `wanted & offered`. Returns the status register.
static inline uint32_t virtio_negotiate(uint64_t base, uint64_t wanted) {
  vwrite(base, VREG_STATUS, 0);
  vwrite(base, VREG_STATUS, VSTATUS_ACK);
  vwrite(base, VREG_STATUS, VSTATUS_ACK | VSTATUS_DRIVER);
  uint64_t f = virtio_device_features(base) & wanted;
  vwrite(base, VREG_DRIVER_FEATURES_SEL, 0);
  vwrite(base, VREG_DRIVER_FEATURES, (uint32_t)f);
  vwrite(base, VREG_DRIVER_FEATURES_SEL, 1);
  vwrite(base, VREG_DRIVER_FEATURES, (uint32_t)(f >> 32));
  vwrite(base, VREG_STATUS, VSTATUS_ACK | VSTATUS_DRIVER | VSTATUS_FEATURES_OK);
  return vread(base, VREG_STATUS);
}

// Programs queue 0 with `size` entries at the given rings (any values: hostile tests pass bad
// ones) and sets QueueReady.
static inline void virtio_setup_queue_at(uint64_t base, uint32_t size, uint64_t desc,
                                         uint64_t avail, uint64_t used) {
  vwrite(base, VREG_QUEUE_SEL, 0);
  vwrite(base, VREG_QUEUE_NUM, size);
  vwrite(base, VREG_QUEUE_DESC_LOW, (uint32_t)desc);
  vwrite(base, VREG_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
  vwrite(base, VREG_QUEUE_DRIVER_LOW, (uint32_t)avail);
  vwrite(base, VREG_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
  vwrite(base, VREG_QUEUE_DEVICE_LOW, (uint32_t)used);
  vwrite(base, VREG_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
  vwrite(base, VREG_QUEUE_READY, 1);
}

// Full bring-up of queue 0 on our static rings. Returns 0 on success.
static inline int virtio_start(struct vqueue* q, uint64_t base, uint64_t wanted) {
  q->base = base;
  q->desc = vq_desc_mem;
  q->avail = &vq_avail_mem;
  q->used = &vq_used_mem;
  memset(vq_desc_mem, 0, sizeof vq_desc_mem);
  memset(&vq_avail_mem, 0, sizeof vq_avail_mem);
  memset(&vq_used_mem, 0, sizeof vq_used_mem);
  q->avail_idx = 0;
  q->used_seen = 0;
  if (!(virtio_negotiate(base, wanted) & VSTATUS_FEATURES_OK)) return -1;
  if (vread(base, VREG_QUEUE_NUM_MAX) < VQ_SIZE) return -2;
  virtio_setup_queue_at(base, VQ_SIZE, (uint64_t)q->desc, (uint64_t)q->avail, (uint64_t)q->used);
  vwrite(base, VREG_STATUS, VSTATUS_ACK | VSTATUS_DRIVER | VSTATUS_FEATURES_OK | VSTATUS_DRIVER_OK);
  if (!(vread(base, VREG_STATUS) & VSTATUS_DRIVER_OK)) return -3;
  return 0;
}

static inline void vq_set(struct vqueue* q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                          uint16_t next) {
  q->desc[i].addr = addr;
  q->desc[i].len = len;
  q->desc[i].flags = flags;
  q->desc[i].next = next;
}

// Drivers that always ring (vq_always_notify = 1) ignore VIRTQ_USED_F_NO_NOTIFY.
static int vq_always_notify;

// Makes `head` available and rings the doorbell, unless the device said it is polling the ring
// (VIRTQ_USED_F_NO_NOTIFY, read after the index store: spec 2.7.10, as Linux does).
static inline void vq_submit(struct vqueue* q, uint16_t head) {
  q->avail->ring[q->avail_idx % VQ_SIZE] = head;
  barrier();
  q->avail_idx++;
  *(volatile uint16_t*)&q->avail->idx = q->avail_idx;
  barrier();
  if (vq_always_notify || !(*(volatile uint16_t*)&q->used->flags & 1)) vwrite(q->base, VREG_QUEUE_NOTIFY, 0);
}

// Waits for the next used entry; returns its length, or -1 after `spins` polls or when the
// device enters NEEDS_RESET.
static inline int64_t vq_wait(struct vqueue* q, uint64_t spins) {
  for (uint64_t i = 0; i < spins; ++i) {
    if (*(volatile uint16_t*)&q->used->idx != q->used_seen) {
      barrier();
      struct vused_elem e = q->used->ring[q->used_seen % VQ_SIZE];
      q->used_seen++;
      return e.len;
    }
    // Rarely: reading a register is an exit to the VMM, which would dominate a round trip.
    if ((i & 0xfffff) == 0xfffff && (vread(q->base, VREG_STATUS) & VSTATUS_NEEDS_RESET)) return -1;
    cpu_relax();
  }
  return -1;
}

// Waits until the device reports NEEDS_RESET; 1 when it did.
static inline int virtio_wait_needs_reset(uint64_t base, uint64_t spins) {
  for (uint64_t i = 0; i < spins; ++i) {
    if (vread(base, VREG_STATUS) & VSTATUS_NEEDS_RESET) return 1;
    cpu_relax();
  }
  return 0;
}

// virtio-blk helpers.
#define VBLK_T_IN 0
#define VBLK_T_OUT 1
#define VBLK_T_FLUSH 4
#define VBLK_T_GET_ID 8
#define VBLK_F_FLUSH (1ull << 9)
#define VBLK_F_RO (1ull << 5)

struct vblk_header {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

static struct vblk_header vblk_hdr __attribute__((aligned(16)));
static volatile uint8_t vblk_status;

// One request in descriptors 0..2: header, optional data, status. Returns the status byte, or
// -1 when the device did not answer.
static inline int vblk_request(struct vqueue* q, uint32_t type, uint64_t sector, void* buf,
                               uint32_t len, int device_writes) {
  vblk_hdr.type = type;
  vblk_hdr.reserved = 0;
  vblk_hdr.sector = sector;
  vblk_status = 0xff;
  vq_set(q, 0, (uint64_t)&vblk_hdr, 16, VDESC_NEXT, len ? 1 : 2);
  if (len) vq_set(q, 1, (uint64_t)buf, len, VDESC_NEXT | (device_writes ? VDESC_WRITE : 0), 2);
  vq_set(q, 2, (uint64_t)&vblk_status, 1, VDESC_WRITE, 0);
  vq_submit(q, 0);
  if (vq_wait(q, 200000000ull) < 0) return -1;
  return vblk_status;
}

static inline uint64_t vblk_capacity(uint64_t base) {
  return (uint64_t)vread(base, VREG_CONFIG) | ((uint64_t)vread(base, VREG_CONFIG + 4) << 32);
}
