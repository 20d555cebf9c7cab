#!/usr/bin/python3
"""Bar chart of the qemu/vessel ratios in the markdown table printed by bench.sh.

Usage: bench/block/plot.py RESULTS.md OUT.png   (Debian python3 with python3-matplotlib)
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = []
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 4 and cells[3].endswith("x") and cells[0] != "case":
        rows.append((cells[0], float(cells[3][:-1])))
names = [r[0] for r in rows]
ratios = [r[1] for r in rows]
fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.2))
colors = ["tab:green" if r >= 1.0 else "tab:red" for r in ratios]
ax.barh(names, ratios, color=colors)
ax.axvline(1.0, color="black", linewidth=1)
ax.invert_yaxis()
ax.set_xlabel("qemu-img time / vessel-img time  (> 1: vessel faster)")
ax.set_title("vessel block layer vs qemu-img (same files, same run)")
for i, r in enumerate(ratios):
    ax.text(r, i, f" {r:.2f}x", va="center")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
