#!/usr/bin/python3
"""Plots the JSON written by bench_qd.py --json (IOPS per case, vessel-vmm beside QEMU microvm).

Usage: bench/virtio/plot_qd.py RESULTS.json OUT.png   (python3-matplotlib)
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

r = json.load(open(sys.argv[1]))
rows = r["rows"]
who = [("vessel", "vessel-vmm", "tab:green"), ("qemu", "QEMU microvm", "tab:red"),
       ("qemu_iothread", "QEMU microvm + iothread", "tab:orange")]
fig, ax = plt.subplots(figsize=(10, 4))
w = 0.27
for i, (k, label, color) in enumerate(who):
    ax.bar([x + (i - 1) * w for x in range(len(rows))], [row[k] or 0 for row in rows], w, label=label, color=color)
for x, row in enumerate(rows):
    if row["vessel"] and row["qemu"]:
        ax.text(x - w, row["vessel"] * 1.02, f"{row['vessel'] / row['qemu']:.2f}×", ha="center", fontsize=8)
ax.set_xticks(range(len(rows)))
ax.set_xticklabels([f"{row['phase'][4:]} {row['bs'] // 1024}K\nQD{row['qd']}" for row in rows], fontsize=8)
ax.set_ylabel("IOPS (higher is better)")
ax.legend(fontsize=8)
where = f"; {r['where']}" if r.get("where", "this machine") != "this machine" else ""
ax.set_title(f"virtio-blk random I/O from guest ring 3, medians of {r['reps']} interleaved runs{where}\n"
             "(the figure over vessel's bar: vessel / QEMU main loop)", fontsize=9)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
