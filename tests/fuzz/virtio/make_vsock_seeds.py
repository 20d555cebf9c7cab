#!/usr/bin/env python3
"""Writes the seed corpus of vsock_packet_fuzz (run from this folder; outputs are checked in)."""
import os
import struct

NEXT, WRITE = 1, 2
RW, REQUEST, RST, SHUTDOWN, CREDIT_UPDATE = 5, 1, 3, 4, 6

def desc(addr, length, flags, nxt=0):
    return struct.pack('<QIHH', addr, length, flags, nxt)

def hdr(op, length=0, src_cid=3, dst_cid=2, typ=1, src_port=1000, dst_port=1024, flags=0):
    return struct.pack('<QQIIIHHIII', src_cid, dst_cid, src_port, dst_port, length, typ, op, flags, 65536, 0)

def seed(descs, data, head=0, flags=0, line=b''):
    buf = bytearray(0x3000 + max(len(line), 1))
    buf[0:4] = struct.pack('<HH', head, flags)
    for i, d in enumerate(descs):
        buf[0x400 + 16 * i:0x410 + 16 * i] = d
    for off, b in data:
        buf[off:off + len(b)] = b
    buf[0x3000:0x3000 + len(line)] = line
    return buf

out = 'corpus/vsock_packet'
os.makedirs(out, exist_ok=True)
seeds = {
    'rw_one_desc': seed([desc(0x1000, 54, 0)], [(0x1000, hdr(RW, 10) + b'0123456789')], line=b'CONNECT 1024\n'),
    'rw_split': seed([desc(0x1000, 44, NEXT, 1), desc(0x1100, 10, 0)], [(0x1000, hdr(RW, 10)), (0x1100, b'abcdefghij')]),
    'header_split': seed([desc(0x1000, 20, NEXT, 1), desc(0x1100, 24, 0)], [(0x1000, hdr(REQUEST)[:20]), (0x1100, hdr(REQUEST)[20:])]),
    'request': seed([desc(0x1000, 44, 0)], [(0x1000, hdr(REQUEST))], line=b'CONNECT 4294967295\n'),
    'shutdown': seed([desc(0x1000, 44, 0)], [(0x1000, hdr(SHUTDOWN, flags=3))]),
    'credit_update': seed([desc(0x1000, 44, 0)], [(0x1000, hdr(CREDIT_UPDATE))], line=b'CONNECT x\n'),
    'len_beyond_chain': seed([desc(0x1000, 50, 0)], [(0x1000, hdr(RW, 100))]),
    'bad_op': seed([desc(0x1000, 44, 0)], [(0x1000, hdr(9))]),
    'bad_cid': seed([desc(0x1000, 44, 0)], [(0x1000, hdr(RW, dst_cid=5))]),
    'short': seed([desc(0x1000, 30, 0)], [(0x1000, hdr(RW)[:30])]),
    'rx_buffer': seed([desc(0x1000, 4096, WRITE)], []),
    'rx_split': seed([desc(0x1000, 20, WRITE | NEXT, 1), desc(0x2000, 100, WRITE)], []),
    'rx_too_small': seed([desc(0x1000, 40, WRITE)], []),
    'rst_payload': seed([desc(0x1000, 48, 0)], [(0x1000, hdr(RST, 4) + b'xxxx')]),
}
for name, buf in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(bytes(buf))
