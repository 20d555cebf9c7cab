#!/usr/bin/env python3
"""Writes the seed corpus of emulator_fuzz: each instruction family the PVM emulator handles, in
the paging modes a guest kernel uses, plus instructions it refuses."""
import os
import struct

CODE, DATA, GDT, IDT = 0x10000, 0x20000, 0x40000, 0x50000
PAGING, PAE, LONG, LA57, CS_L, OSFXSR = 1, 2, 4, 8, 16, 32
KERNEL64 = PAGING | PAE | LONG | CS_L | OSFXSR


def header(mode, cr3=0x1000, rip=CODE, gdt=(GDT, 16 * 8 - 1), idt=(IDT, 256 * 16 - 1), tr=0x60000,
           ldt=(0, 0), rflags=0x2, gprs=None):
    gprs = gprs or {}
    order = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13"]
    defaults = {"rsp": 0x70000, "rax": DATA, "rbx": DATA + 0x100}
    h = struct.pack("<BQQQHQHQQHQ", mode, cr3, rip, gdt[0], gdt[1], idt[0], idt[1], tr, ldt[0], ldt[1], rflags)
    h += b"".join(struct.pack("<Q", gprs.get(r, defaults.get(r, 0))) for r in order)
    return h.ljust(176, b"\0")


def chunk(gpa, data):
    return struct.pack("<IH", gpa, len(data)) + data


def identity_map_2m():  # PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000: the first 2 MiB, one large page
    return (chunk(0x1000, struct.pack("<Q", 0x2000 | 3)) + chunk(0x2000, struct.pack("<Q", 0x3000 | 3))
            + chunk(0x3000, struct.pack("<Q", 0x83)))


def long_mode(code, extra=b"", **kw):
    return header(KERNEL64, **kw) + identity_map_2m() + chunk(CODE, bytes(code)) + extra


def idt_gate(vector, target):
    gate = struct.pack("<HHBBHIi", target & 0xffff, 0x10, 0, 0x8e, (target >> 16) & 0xffff, target >> 32, 0)
    return chunk(IDT + vector * 16, gate)


SEEDS = {
    "int3": long_mode([0xcc]),
    "int_0x80_through_the_idt": long_mode([0xcd, 0x80], idt_gate(0x80, 0x11000)),
    "int_3_below_32": long_mode([0xcd, 0x03]),
    "ud2": long_mode([0x0f, 0x0b]),
    "popcnt_rax_rbx": long_mode([0xf3, 0x48, 0x0f, 0xb8, 0xc3]),
    "tzcnt_memory": long_mode([0xf3, 0x0f, 0xbc, 0x08]),
    "lzcnt_rip_relative": long_mode([0xf3, 0x48, 0x0f, 0xbd, 0x05, 0x00, 0x01, 0x00, 0x00]),
    "lsl_cpunode": long_mode([0x48, 0x0f, 0x03, 0xc0], chunk(GDT + 15 * 8, struct.pack("<Q", 5 | (0xf3 << 40))),
                             gprs={"rax": 15 * 8 + 3}),
    "lar_granular": long_mode([0x0f, 0x02, 0xcb], chunk(GDT + 16, struct.pack("<Q", 0x00cf93000000ffff)),
                              gprs={"rbx": 16}),
    "lsl_ldt_selector": long_mode([0x0f, 0x03, 0xd0], gprs={"rax": 4}, ldt=(0x41000, 0xff)),
    "stac_clac": long_mode([0x0f, 0x01, 0xcb]),
    "xgetbv": long_mode([0x0f, 0x01, 0xd0]),
    "xsetbv": long_mode([0x0f, 0x01, 0xd1], gprs={"rax": 3}),
    "rdrand": long_mode([0x48, 0x0f, 0xc7, 0xf0]),
    "mfence": long_mode([0x0f, 0xae, 0xf0]),
    "ldmxcsr": long_mode([0x0f, 0xae, 0x10], chunk(DATA, struct.pack("<I", 0x1f80))),
    "stmxcsr": long_mode([0x0f, 0xae, 0x18]),
    "fxsave": long_mode([0x0f, 0xae, 0x00]),
    "fxrstor": long_mode([0x48, 0x0f, 0xae, 0x08], chunk(DATA, bytes(512))),
    "xsave": long_mode([0x0f, 0xae, 0x20], gprs={"rax": 3, "rdx": 0, "rcx": DATA}),
    "xrstor": long_mode([0x0f, 0xae, 0x2b], chunk(DATA + 0x100, bytes(576))),
    "cmpxchg16b": long_mode([0xf0, 0x48, 0x0f, 0xc7, 0x0e], chunk(DATA, bytes(16)), gprs={"rsi": DATA}),
    "cmpxchg8b": long_mode([0x0f, 0xc7, 0x0e], chunk(DATA, bytes(8)), gprs={"rsi": DATA}),
    "fninit_fnstcw": long_mode([0xdb, 0xe3]),
    "fnstcw_memory": long_mode([0xd9, 0x38]),
    "fwait": long_mode([0x9b]),
    "sse_pxor": long_mode([0x66, 0x0f, 0xef, 0xc0]),
    "sse_movdqa_load": long_mode([0x66, 0x0f, 0x6f, 0x00], chunk(DATA, bytes(range(16)))),
    "refused_syscall": long_mode([0x0f, 0x05]),
    "refused_unknown": long_mode([0x8f, 0xe9, 0x78, 0xe2]),
    "prefixes_only": long_mode([0x66, 0xf3, 0x2e, 0x3e, 0x66, 0xf2, 0x66, 0xf3, 0x2e, 0x3e, 0x66, 0xf2, 0x66, 0xf3, 0x2e]),
    "rip_unmapped": long_mode([0xcc], rip=0x300000),
    "rip_at_page_end": long_mode([], chunk(CODE + 0xffe, bytes([0xf3, 0x0f, 0xb8, 0xc3])), rip=CODE + 0xffe),
    "real_mode_no_paging": header(0, cr3=0) + chunk(CODE, bytes([0xcc])),
    "protected_32_int3": header(PAGING, cr3=0x5000) + chunk(0x5000, struct.pack("<I", 0x83))
    + chunk(CODE, bytes([0x0f, 0xa2, 0xcc])),
    "pae_32_popcnt": header(PAGING | PAE, cr3=0x6000) + chunk(0x6000, struct.pack("<Q", 0x7001))
    + chunk(0x7000, struct.pack("<Q", 0x83)) + chunk(CODE, bytes([0xf3, 0x0f, 0xb8, 0xc3])),
    "five_level_ud2": header(KERNEL64 | LA57, cr3=0x8000) + chunk(0x8000, struct.pack("<Q", 0x1000 | 3))
    + identity_map_2m() + chunk(CODE, bytes([0x0f, 0x0b])),
    "self_referencing_tables": header(KERNEL64, cr3=0x1000) + chunk(0x1000, struct.pack("<Q", 0x1000 | 3))
    + chunk(CODE, bytes([0xcc])),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(here, exist_ok=True)
for name, blob in SEEDS.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(blob)
print(f"{len(SEEDS)} seeds in {here}")
