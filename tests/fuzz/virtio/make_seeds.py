#!/usr/bin/env python3
"""Writes the seed corpora of the virtio fuzz targets (run from this folder; outputs are checked in)."""
import os
import struct

def desc(addr, length, flags, nxt=0):
    return struct.pack('<QIHH', addr, length, flags, nxt)

def put(buf, off, data):
    buf[off:off + len(data)] = data

def write(folder, name, buf):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(bytes(buf))

NEXT, WRITE, INDIRECT = 1, 2, 4

# virtqueue: params = size, desc/16, avail/2, used/4, indirect, head; rings at 0x400/0x800/0xa00.
def vq_seed(size, descs, heads, indirect=0, head=0, extra=()):
    buf = bytearray(0x2000)
    put(buf, 0, struct.pack('<8H', size, 0x400 // 16, 0x800 // 2, 0xa00 // 4, indirect, head, 0, 0))
    for i, d in enumerate(descs):
        put(buf, 0x400 + 16 * i, d)
    put(buf, 0x800, struct.pack('<HH', 0, len(heads)))
    for i, h in enumerate(heads):
        put(buf, 0x804 + 2 * i, struct.pack('<H', h))
    for off, data in extra:
        put(buf, off, data)
    return buf

vq = 'corpus/virtqueue'
write(vq, 'simple_chain', vq_seed(16, [desc(0x1000, 16, NEXT, 1), desc(0x1100, 512, NEXT | WRITE, 2), desc(0x1400, 1, WRITE)], [0]))
write(vq, 'two_heads', vq_seed(16, [desc(0x1000, 64, WRITE), desc(0x1100, 64, WRITE)], [0, 1]))
write(vq, 'loop', vq_seed(16, [desc(0x1000, 16, NEXT, 1), desc(0x1000, 16, NEXT, 0)], [0]))
write(vq, 'next_out_of_range', vq_seed(16, [desc(0x1000, 16, NEXT, 99)], [0]))
write(vq, 'out_of_ram', vq_seed(16, [desc(0xfff0, 0x100, WRITE)], [0]))
write(vq, 'indirect', vq_seed(16, [desc(0x1800, 32, INDIRECT)], [0], indirect=1,
      extra=[(0x1800, desc(0x1000, 16, NEXT, 1) + desc(0x1100, 8, WRITE))]))
write(vq, 'nested_indirect', vq_seed(16, [desc(0x1800, 32, INDIRECT)], [0], indirect=1,
      extra=[(0x1800, desc(0x1000, 16, NEXT, 1) + desc(0x1800, 32, INDIRECT))]))
b = vq_seed(16, [desc(0x1000, 8, WRITE)], [0])
put(b, 0x802, struct.pack('<H', 400))  # avail index far ahead
write(vq, 'avail_ahead', b)

# blk_request: head, flags (1 indirect, 2 read-only, 4 discard, 8 write-zeroes), capacity.
def blk_seed(descs, header, flags=0xc, capacity=128, extra=()):
    buf = bytearray(0x2000)
    put(buf, 0, struct.pack('<HHI', 0, flags, capacity))
    for i, d in enumerate(descs):
        put(buf, 0x400 + 16 * i, d)
    put(buf, 0x1000, header)
    for off, data in extra:
        put(buf, off, data)
    return buf

def hdr(t, sector):
    return struct.pack('<IIQ', t, 0, sector)

br = 'corpus/blk_request'
three = lambda datflags, length=512: [desc(0x1000, 16, NEXT, 1), desc(0x1200, length, NEXT | datflags, 2), desc(0x1f00, 1, WRITE)]
write(br, 'read', blk_seed(three(WRITE), hdr(0, 3)))
write(br, 'write', blk_seed(three(0), hdr(1, 3)))
write(br, 'write_ro', blk_seed(three(0), hdr(1, 3), flags=2))
write(br, 'read_past_end', blk_seed(three(WRITE), hdr(0, 128)))
write(br, 'unaligned', blk_seed(three(WRITE, 100), hdr(0, 0)))
write(br, 'flush', blk_seed([desc(0x1000, 16, NEXT, 1), desc(0x1f00, 1, WRITE)], hdr(4, 0)))
write(br, 'get_id', blk_seed(three(WRITE, 20), hdr(8, 0)))
write(br, 'discard', blk_seed(three(0, 16), hdr(11, 0), extra=[(0x1200, struct.pack('<QII', 4, 8, 0))]))
write(br, 'write_zeroes', blk_seed(three(0, 16), hdr(13, 0), extra=[(0x1200, struct.pack('<QII', 4, 8, 1))]))
write(br, 'unknown_type', blk_seed(three(WRITE), hdr(99, 0)))
write(br, 'indirect_read', blk_seed([desc(0x1800, 48, INDIRECT)], hdr(0, 1), flags=0xd,
      extra=[(0x1800, desc(0x1000, 16, NEXT, 1) + desc(0x1200, 512, NEXT | WRITE, 2) + desc(0x1f00, 1, WRITE))]))
write(br, 'split_header', blk_seed([desc(0x1000, 7, NEXT, 1), desc(0x1007, 9 + 512, NEXT, 2), desc(0x1f00, 1, WRITE)], hdr(1, 2)))

# rng_request: head, flags (1 indirect); descriptor table at 0x400.
def rng_seed(descs, flags=0, extra=()):
    buf = bytearray(0x2000)
    put(buf, 0, struct.pack('<HH', 0, flags))
    for i, d in enumerate(descs):
        put(buf, 0x400 + 16 * i, d)
    for off, data in extra:
        put(buf, off, data)
    return buf

rr = 'corpus/rng_request'
write(rr, 'one_buffer', rng_seed([desc(0x1000, 256, WRITE)]))
write(rr, 'readable_then_writable', rng_seed([desc(0x1000, 16, NEXT, 1), desc(0x1100, 64, NEXT | WRITE, 2), desc(0x1200, 32, WRITE)]))
write(rr, 'readable_only', rng_seed([desc(0x1000, 16, 0)]))
write(rr, 'empty_buffer', rng_seed([desc(0x1000, 0, NEXT | WRITE, 1), desc(0x1100, 8, WRITE)]))
write(rr, 'over_the_cap', rng_seed([desc(0x1000, 0xc000, NEXT | WRITE, 1), desc(0x1000, 0xc000, WRITE)]))
write(rr, 'out_of_ram', rng_seed([desc(0xff00, 0x200, WRITE)]))
write(rr, 'indirect', rng_seed([desc(0x1800, 32, INDIRECT)], flags=1,
      extra=[(0x1800, desc(0x1000, 128, NEXT | WRITE, 1) + desc(0x1100, 128, WRITE))]))
write(rr, 'loop', rng_seed([desc(0x1000, 16, NEXT | WRITE, 1), desc(0x1100, 16, NEXT | WRITE, 0)]))

# net_frame: head, flags (1 indirect), u32 features (low half); descriptor table at 0x400.
def net_seed(descs, flags=0, features=0, extra=()):
    buf = bytearray(0x2000)
    put(buf, 0, struct.pack('<HHI', 0, flags, features))
    for i, d in enumerate(descs):
        put(buf, 0x400 + 16 * i, d)
    for off, data in extra:
        put(buf, off, data)
    return buf

CSUM, HOST_TSO4, HOST_TSO6, HOST_UFO = 1, 1 << 11, 1 << 12, 1 << 14
def net_hdr(flags=0, gso=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    return struct.pack('<BBHHHHH', flags, gso, hdr_len, gso_size, csum_start, csum_offset, 0)

nf = 'corpus/net_frame'
write(nf, 'tx_one_buffer', net_seed([desc(0x1000, 12 + 60, 0)]))
write(nf, 'tx_split_header', net_seed([desc(0x1000, 5, NEXT, 1), desc(0x1100, 7, NEXT, 2), desc(0x1200, 100, 0)]))
write(nf, 'tx_csum', net_seed([desc(0x1000, 12 + 200, 0)], features=CSUM, extra=[(0x1000, net_hdr(1, 0, 0, 0, 34, 16))]))
write(nf, 'tx_tso4', net_seed([desc(0x1000, 12 + 2000, 0)], features=CSUM | HOST_TSO4,
      extra=[(0x1000, net_hdr(1, 1, 54, 1448, 34, 16))]))
write(nf, 'tx_gso_not_negotiated', net_seed([desc(0x1000, 12 + 2000, 0)], features=CSUM,
      extra=[(0x1000, net_hdr(1, 4, 74, 1428, 54, 16))]))
write(nf, 'tx_oversized', net_seed([desc(0x1000, 0x8000, NEXT, 1), desc(0x1000, 0x8000, NEXT, 2), desc(0x1000, 100, 0)]))
write(nf, 'tx_short', net_seed([desc(0x1000, 12, 0)]))
write(nf, 'rx_one_buffer', net_seed([desc(0x1000, 1526, WRITE)]))
write(nf, 'rx_small_pieces', net_seed([desc(0x1000, 6, NEXT | WRITE, 1), desc(0x1100, 6, NEXT | WRITE, 2), desc(0x1200, 64, WRITE)]))
write(nf, 'rx_too_small', net_seed([desc(0x1000, 11, WRITE)]))
write(nf, 'mixed', net_seed([desc(0x1000, 12 + 20, NEXT, 1), desc(0x1100, 64, WRITE)]))
write(nf, 'indirect', net_seed([desc(0x1800, 32, INDIRECT)], flags=1,
      extra=[(0x1800, desc(0x1000, 12, NEXT, 1) + desc(0x1100, 128, 0))]))

# net_device: u32 features, u16 rx frame length, u16 flags (1 indirect); rx rings at
# 0x400/0x800/0xa00, tx rings at 0x1000/0x1200/0x1400, 16 entries each.
MRG = 1 << 15
def net_dev_seed(rx_descs, rx_heads, tx_descs, tx_heads, features=0, rx_len=0, flags=0, extra=()):
    buf = bytearray(0x4000)
    put(buf, 0, struct.pack('<IHH', features, rx_len, flags))
    for i, d in enumerate(rx_descs):
        put(buf, 0x400 + 16 * i, d)
    put(buf, 0x800, struct.pack('<HH', 0, len(rx_heads)))
    for i, h in enumerate(rx_heads):
        put(buf, 0x804 + 2 * i, struct.pack('<H', h))
    for i, d in enumerate(tx_descs):
        put(buf, 0x1000 + 16 * i, d)
    put(buf, 0x1200, struct.pack('<HH', 0, len(tx_heads)))
    for i, h in enumerate(tx_heads):
        put(buf, 0x1204 + 2 * i, struct.pack('<H', h))
    for off, data in extra:
        put(buf, off, data)
    return buf

nd = 'corpus/net_device'
write(nd, 'tx_one_rx_one', net_dev_seed([desc(0x2000, 1526, WRITE)], [0], [desc(0x3000, 12 + 60, 0)], [0], rx_len=100))
write(nd, 'tx_two', net_dev_seed([], [], [desc(0x3000, 12 + 60, 0), desc(0x3100, 12 + 200, 0)], [0, 1]))
write(nd, 'rx_mergeable', net_dev_seed([desc(0x2000, 64, WRITE), desc(0x2100, 64, WRITE), desc(0x2200, 64, WRITE)],
      [0, 1, 2], [], [], features=MRG, rx_len=150))
write(nd, 'rx_too_small', net_dev_seed([desc(0x2000, 64, WRITE)], [0], [], [], rx_len=150))
write(nd, 'tx_csum', net_dev_seed([], [], [desc(0x3000, 12 + 200, 0)], [0], features=CSUM,
      extra=[(0x3000, net_hdr(1, 0, 0, 0, 34, 16))]))
write(nd, 'tx_bad_then_good', net_dev_seed([], [], [desc(0x3000, 8, 0), desc(0x3100, 12 + 60, WRITE), desc(0x3200, 12 + 60, 0)], [0, 1, 2]))
write(nd, 'rx_bad_chain', net_dev_seed([desc(0x2000, 64, 0), desc(0x2100, 2048, WRITE)], [0, 1], [], [], rx_len=80))

# mmio_transport: 8-byte register operations (kind, size code, offset, value), then RAM.
def op(kind, off, value=0, size_code=2):
    return struct.pack('<BBHI', kind, size_code, off, value)

def driver_init(qsize=16, desc=0x1000, avail=0x1200, used=0x1400, features_hi=1, features_lo=0):
    ops = [op(1, 0x70, 0), op(1, 0x70, 1), op(1, 0x70, 3), op(1, 0x24, 0), op(1, 0x20, features_lo),
           op(1, 0x24, 1), op(1, 0x20, features_hi), op(1, 0x70, 11), op(0, 0x70), op(1, 0x30, 0),
           op(1, 0x38, qsize), op(1, 0x80, desc), op(1, 0x84, 0), op(1, 0x90, avail), op(1, 0x94, 0),
           op(1, 0xa0, used), op(1, 0xa4, 0), op(1, 0x44, 1), op(1, 0x70, 15)]
    return b''.join(ops)

def mmio_seed(ops, ram=()):
    buf = bytearray(0x2000)
    put(buf, 0, ops)
    for off, data in ram:
        put(buf, off, data)
    return buf

mt = 'corpus/mmio_transport'
read_req = [(0x1000, desc(0x1800, 16, NEXT, 1) + desc(0x1a00, 512, NEXT | WRITE, 2) + desc(0x1c00, 1, WRITE)),
            (0x1800, hdr(0, 1)), (0x1200, struct.pack('<HHH', 0, 1, 0))]
write(mt, 'init_and_read', mmio_seed(driver_init() + op(1, 0x50, 0) + op(0, 0x60) + op(1, 0x64, 1), read_req))
write(mt, 'init_pause_read_resume', mmio_seed(driver_init() + op(2, 0) + op(1, 0x50, 0) + op(3, 0), read_req))
write(mt, 'bad_queue_size', mmio_seed(driver_init(qsize=12) + op(0, 0x70) + op(1, 0x70, 0)))
write(mt, 'no_version1', mmio_seed(driver_init(features_hi=0)))
write(mt, 'config_reads', mmio_seed(b''.join(op(0, 0x100 + 4 * i) for i in range(16)) + op(0, 0x100, 0, 3) + op(0, 0x13c, 0, 0)))
write(mt, 'loop_then_reset', mmio_seed(driver_init() + op(1, 0x50, 0) + op(1, 0x70, 0) + driver_init(),
      [(0x1000, desc(0x1800, 16, NEXT, 1) + desc(0x1800, 16, NEXT, 0)), (0x1200, struct.pack('<HHH', 0, 1, 0))]))
