#!/usr/bin/env python3
"""Writes the seed corpus of balloon_request_fuzz (run from this folder; outputs are checked in).
Input: u16 head, u16 flags (bit 0 indirect, bits 1-2: 0 inflate, 1 report, 2 statistics), then
guest RAM with the descriptor table at 0x400."""
import os
import struct

NEXT, WRITE, INDIRECT = 1, 2, 4
INFLATE, REPORT, STATS = 0, 2, 4  # already shifted into the flags word

def desc(addr, length, flags, nxt=0):
    return struct.pack('<QIHH', addr, length, flags, nxt)

def seed(name, flags, descs, extra=()):
    buf = bytearray(0x2000)
    buf[0:4] = struct.pack('<HH', 0, flags)
    for i, d in enumerate(descs):
        buf[0x400 + 16 * i:0x400 + 16 * i + 16] = d
    for off, data in extra:
        buf[off:off + len(data)] = data
    folder = 'corpus/balloon_request'
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(bytes(buf))

pfns = struct.pack('<6I', 3, 4, 5, 9, 4, 15)
seed('inflate_pfns', INFLATE, [desc(0x1000, len(pfns), 0)], [(0x1000, pfns)])
seed('inflate_split', INFLATE, [desc(0x1000, 8, NEXT, 1), desc(0x1008, 16, 0)], [(0x1000, pfns)])
seed('inflate_out_of_ram', INFLATE, [desc(0x1000, 8, 0)], [(0x1000, struct.pack('<2I', 2, 0x10))])
seed('inflate_odd_length', INFLATE, [desc(0x1000, 6, 0)], [(0x1000, pfns)])
seed('inflate_indirect', INFLATE | 1, [desc(0x1800, 16, INDIRECT)],
     [(0x1800, desc(0x1000, 24, 0)), (0x1000, pfns)])
seed('report_ranges', REPORT, [desc(0x4000, 0x2000, WRITE | NEXT, 1), desc(0x8000, 0x1000, WRITE)])
seed('report_unaligned', REPORT, [desc(0x4100, 0x1000, WRITE)])
stats = b''.join(struct.pack('<HQ', t, v) for t, v in [(0, 1), (5, 256 << 20), (4, 100 << 20), (99, 7)])
seed('stats', STATS, [desc(0x1000, len(stats), 0)], [(0x1000, stats)])
seed('stats_partial', STATS, [desc(0x1000, 15, 0)], [(0x1000, stats)])
