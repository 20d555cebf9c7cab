#!/usr/bin/python3
"""Plots the JSON written by bench_virtio.py --json: plot.py RESULTS.json OUT.png"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

r = json.load(open(sys.argv[1]))
who = [("vessel", "vessel-vmm"), ("vessel_poll", "vessel-vmm + polling"),
       ("qemu", "QEMU microvm"), ("qemu_iothread", "QEMU microvm + iothread")]
labels = {"doorbell": "QueueNotify exit", "notify": "notify round trip", "read": "read", "write": "write"}
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, names, unit, title in [(axes[0], ["doorbell", "notify"], "µs", "latency (lower is better)"),
                               (axes[1], ["read", "write"], "MiB/s", "64 KiB QD1 (higher is better)")]:
    w = 0.2
    for i, (k, label) in enumerate(who):
        vals = [(r[n].get(k) or 0) / (1000 if unit == "µs" else 1) for n in names]
        ax.bar([x + i * w for x in range(len(names))], vals, w, label=label)
    ax.set_xticks([x + 1.5 * w for x in range(len(names))])
    ax.set_xticklabels([labels[n] for n in names])
    ax.set_ylabel(unit)
    ax.set_title(title)
axes[0].legend(fontsize=8)
where = f"\n{r['where']}" if r.get("where", "this machine") != "this machine" else ""
fig.suptitle(f"virtio-blk from guest ring 3, medians of {r['reps']} interleaved runs{where}")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=80)
