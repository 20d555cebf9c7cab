#!/usr/bin/env python3
"""Writes the seed corpus of migration_stream_fuzz (run from this folder; outputs are checked in).
The stream format: docs/vmm/migration.md, "Wire format"."""
import os
import struct

PAGE = 4096

def header(t, length):
    return struct.pack('<IIQ', t, 0, length)

def preamble(version=1):
    return b'VSLMIGR1' + struct.pack('<II', version, 0)

def hello(mem=64 * 1024, vcpus=1, page=PAGE):
    return header(1, 16) + struct.pack('<QII', mem, vcpus, page)

def round_(n, pages):
    return header(4, 16) + struct.pack('<IIQ', n, 0, pages)

def ranges(t, rs, data=True):
    table = struct.pack('<II', len(rs), 0) + b''.join(struct.pack('<QQ', f, c) for f, c in rs)
    body = b''
    if t == 2 and data:
        for f, c in rs:
            for p in range(f, f + c):
                body += bytes([(p * 7 + 1) & 0xff]) * PAGE
    return header(t, len(table) + len(body)) + table + body

def state(flags=1, blob=b'VSLSNAP1-not-really-a-state'):
    return header(5, 8 + len(blob)) + struct.pack('<II', flags, 0) + blob

def config(text):
    t = text.encode()
    return header(7, len(t)) + t

def error(text):
    t = text.encode()
    return header(6, len(t)) + t

def token(fill=b'T'):
    return header(8, 32) + fill * 32

CONFIG = config('{"machine-config": {"vcpu_count": 1, "mem_size_mib": 1}}')

good = (preamble() + hello() + CONFIG + round_(0, 16) + ranges(2, [(0, 2), (5, 1)]) + ranges(3, [(2, 3), (6, 10)], False) +
        round_(1, 2) + ranges(2, [(1, 1), (15, 1)]) + state())

seeds = {
    'good': good,
    'no_config': preamble() + hello() + round_(0, 16) + ranges(3, [(0, 16)], False) + state(),
    'config_after_round0': preamble() + hello() + CONFIG + round_(0, 16) + config('{}') + state(),
    'good_paused': preamble() + hello() + CONFIG + round_(0, 16) + ranges(3, [(0, 16)], False) + state(flags=0),
    'bad_magic': b'VSLMIGR2' + good[8:],
    'future_version': preamble(2) + good[16:],
    'no_round0': preamble() + hello() + CONFIG + ranges(2, [(0, 1)]) + state(),
    'rounds_out_of_order': preamble() + hello() + CONFIG + round_(0, 16) + round_(2, 1) + state(),
    'range_outside_ram': preamble() + hello() + CONFIG + round_(0, 16) + ranges(3, [(15, 2)], False) + state(),
    'range_overflow': preamble() + hello() + CONFIG + round_(0, 16) + ranges(3, [(2**64 - 1, 2)], False) + state(),
    'pages_short': preamble() + hello() + CONFIG + round_(0, 16) + header(2, 24 + 100) + struct.pack('<IIQQ', 1, 0, 0, 1) + b'x' * 100,
    'huge_state': preamble() + hello() + CONFIG + round_(0, 16) + header(5, 2**40),
    'sender_error': preamble() + hello() + CONFIG + round_(0, 16) + error('disk full on the sender'),
    'big_ram': preamble() + hello(mem=2**40) + round_(0, 1),
    'odd_page_size': preamble() + hello(page=65536),
    'truncated': good[:len(good) // 2],
    # 'T' first: the receiver expects the token of 32 bytes 'T' (the fuzz target's convention).
    'token_good': b'T' + preamble() + token() + good[16:],
    'token_wrong': b'T' + preamble() + token(b'U') + good[16:],
    'token_missing': b'T' + good,
    'token_short': b'T' + preamble() + header(8, 31) + b'T' * 31 + good[16:],
    'token_unexpected': preamble() + token() + good[16:],
}

os.makedirs('corpus', exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join('corpus', name), 'wb') as f:
        f.write(data)
