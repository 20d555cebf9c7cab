#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_block_write and fuzz_block_backing (run from this folder with
qemu-img and qemu-io on the PATH; the outputs are checked in)."""
import os
import struct
import subprocess
import tempfile

def qemu(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)

def image(tmp, name, opts, size='1M', writes=(), backing=None, backing_fmt='raw'):
    path = os.path.join(tmp, name)
    cmd = ['qemu-img', 'create', '-q', '-f', 'qcow2', '-o', opts]
    if backing is not None:
        cmd += ['-u', '-b', backing] + (['-F', backing_fmt] if backing_fmt else [])
    qemu(*cmd, path, size)
    for w in writes:
        qemu('qemu-io', '-f', 'qcow2', '-c', w, path)
    with open(path, 'rb') as f:
        return f.read()

def op(kind, off, length, fill=0x5a):
    # kind, 24-bit offset (scaled by the target), 16-bit length - 1 (low byte is also the fill)
    return bytes([kind, (off >> 16) & 0xff, (off >> 8) & 0xff, off & 0xff, ((length - 1) >> 8) & 0xff, (length - 1) & 0xff])

def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(data)

WRITE, ZERO, DISCARD, COMPRESSED, RESIZE, FLUSH, REOPEN, READ = range(8)

with tempfile.TemporaryDirectory() as tmp:
    ops_mixed = (op(WRITE, 0, 4096) + op(WRITE, 1000, 700) + op(ZERO, 17, 512) + op(COMPRESSED, 3, 512) +
                 op(FLUSH, 0, 1) + op(RESIZE, 0x0101, 1) + op(WRITE, 0xfff, 65535) + op(DISCARD, 5, 9000) +
                 op(REOPEN, 0, 1) + op(READ, 0, 65535) + op(WRITE, 77, 3) + op(RESIZE, 0x0300, 1) +
                 op(FLUSH, 0, 1) + op(READ, 123, 4000) + op(COMPRESSED, 9, 1) + op(REOPEN, 0, 1))
    ops_writes = b''.join(op(WRITE, i * 37, 512 * (i + 1)) for i in range(16))
    assert len(ops_mixed) == len(ops_writes) == 96
    seeds = {
        'v3_512': image(tmp, 'a', 'cluster_size=512', writes=['write -P 0x11 0 4k']),
        'v2_512': image(tmp, 'b', 'cluster_size=512,compat=0.10', writes=['write -P 0x22 8k 4k']),
        'v3_4k_rc1': image(tmp, 'c', 'cluster_size=4k,refcount_bits=1', writes=['write -P 0x33 0 8k']),
        'zstd_512': image(tmp, 'd', 'cluster_size=512,compression_type=zstd', writes=['write -c -P 0x44 0 512']),
        'zero_512': image(tmp, 'e', 'cluster_size=512', writes=['write -P 0x55 0 4k', 'write -z 0 2k']),
    }
    for name, img in seeds.items():
        write('corpus/write', name + '_mixed', img + ops_mixed)
        write('corpus/write', name + '_writes', img + ops_writes)

    def files(*parts):
        out = b''
        for p in parts:
            out += struct.pack('<H', len(p)) + p
        return out
    raw = b'R' * 4096
    s1 = image(tmp, 's1', 'cluster_size=512', size='64k')
    chain_s0 = image(tmp, 's0', 'cluster_size=512', size='64k', backing='s1', backing_fmt='qcow2')
    backing = {
        'chain': files(image(tmp, 'f0', 'cluster_size=512', size='64k', backing='f1', backing_fmt='qcow2'),
                       image(tmp, 'f1', 'cluster_size=512', size='64k', backing='sub/s0', backing_fmt='qcow2'),
                       chain_s0, s1),
        'sub_raw': files(image(tmp, 'g0', 'cluster_size=512', size='64k', backing='sub/s0'), b'', raw),
        'dotdot': files(image(tmp, 'h0', 'cluster_size=512', size='64k', backing='../secret.raw')),
        'sub_dotdot': files(image(tmp, 'i0', 'cluster_size=512', size='64k', backing='sub/../../secret.raw')),
        'symlink': files(image(tmp, 'j0', 'cluster_size=512', size='64k', backing='link.raw')),
        'absolute': files(image(tmp, 'k0', 'cluster_size=512', size='64k', backing='/etc/hostname')),
        'self': files(image(tmp, 'l0', 'cluster_size=512', size='64k', backing='f0', backing_fmt='qcow2')),
        # the backing format extension (0xE2792ACA) renamed to an unknown one: no format recorded
        'no_format': files(image(tmp, 'm0', 'cluster_size=512', size='64k', backing='f1').replace(
            struct.pack('>I', 0xE2792ACA), struct.pack('>I', 0x0BADF00D), 1), raw),
        'dot_dir': files(image(tmp, 'n0', 'cluster_size=512', size='64k', backing='./sub/.', backing_fmt='raw')),
    }
    for name, data in backing.items():
        write('corpus/backing', name, data)
