#!/usr/bin/env python3
"""Writes the seed corpus of legacy_ports_fuzz: what a Linux guest does to each port device."""
import os
import struct

COM1, I8042_DATA, DEBUG_EXIT, ACPI, WDT = 0, 1, 2, 3, 5  # indexes into kBases; offset in the high byte
READ, WRITE, INPUT, CAD, RESET, WDT_TIME, WDT_PAUSE = 0, 1, 3, 4, 5, 6, 7


def rec(kind, base, offset=0, value=0, size=0):
    return struct.pack("<BBHI", kind, size, base | (offset << 8), value)


SEEDS = {
    "uart_init_and_print": [rec(WRITE, COM1, 3, 0x80), rec(WRITE, COM1, 0, 0x01), rec(WRITE, COM1, 1, 0x00),
                            rec(WRITE, COM1, 3, 0x03), rec(WRITE, COM1, 1, 0x03), rec(WRITE, COM1, 2, 0xc7)]
                           + [rec(WRITE, COM1, 0, ord(c)) for c in "Kernel panic - not syncing: x\n"]
                           + [rec(READ, COM1, 5), rec(READ, COM1, 2)],
    "uart_input_read_back": [rec(WRITE, COM1, 1, 0x01), rec(INPUT, COM1, 0, 0x41000010)]
                            + [rec(READ, COM1, 0)] * 20 + [rec(READ, COM1, 5), rec(INPUT, COM1, 0, 0x42001fff)],
    "i8042_probe": [rec(WRITE, I8042_DATA, 4, 0xaa), rec(READ, I8042_DATA, 4), rec(READ, I8042_DATA, 0),
                    rec(WRITE, I8042_DATA, 4, 0x20), rec(READ, I8042_DATA, 0), rec(WRITE, I8042_DATA, 4, 0x60),
                    rec(WRITE, I8042_DATA, 0, 0x47), rec(WRITE, I8042_DATA, 0, 0xff), rec(READ, I8042_DATA, 0),
                    rec(WRITE, I8042_DATA, 0, 0xf2), rec(READ, I8042_DATA, 0), rec(READ, I8042_DATA, 0),
                    rec(WRITE, I8042_DATA, 0, 0xed), rec(WRITE, I8042_DATA, 0, 0x07), rec(CAD, 0),
                    rec(READ, I8042_DATA, 0)] + [rec(CAD, 0)] * 8 + [rec(RESET, 0)],
    "i8042_reset_line": [rec(WRITE, I8042_DATA, 4, 0xd1), rec(WRITE, I8042_DATA, 0, 0x00), rec(WRITE, I8042_DATA, 4, 0xfe)],
    "acpi_poweroff": [rec(READ, ACPI, 1), rec(WRITE, ACPI, 0, 0x34), rec(WRITE, ACPI, 2, 0x06)],
    "debug_exit_and_nothing": [rec(READ, 4, 0, 0, 3), rec(WRITE, 7, 2, 0xffffffff, 2), rec(WRITE, DEBUG_EXIT, 0, 5)],
    # ib700wdt: start with a 2 s margin, pet, time passes, paused through a snapshot, expiry, stop.
    "ib700_linux_driver": [rec(WRITE, WDT, 2, 14), rec(WDT_TIME, 0, 0, 1500), rec(WRITE, WDT, 2, 14),
                           rec(WDT_PAUSE, 0, 0, 1), rec(WDT_TIME, 0, 0, 2500), rec(READ, WDT, 2),
                           rec(WRITE, WDT, 2, 15), rec(WDT_TIME, 0, 0, 0), rec(WRITE, WDT, 0, 0),
                           rec(WRITE, WDT, 3, 0xffffffff, 2)],
}

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, records in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"".join(records))
