#!/usr/bin/python3
"""Start-up times run by run from saved outputs of bench/vmm/bench.sh, one panel per output.

Usage: bench/vmm/plot.py OUT.png 'LABEL=saved-output.txt' ['LABEL=saved-output.txt' ...]
(Debian python3 with python3-matplotlib; " | " in a LABEL starts a new line). Each panel shows every run's time from process start
to the guest's first console line for vessel-vmm, QEMU microvm and the KVM floor, the medians,
and the median of the paired (same round) vessel / QEMU ratios.
"""
import re
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REP = re.compile(r"^\[rep (\d+)\] (\S+)\s+marker=([\d.]+)ms")
NAMES = [("vessel-vmm", "vessel-vmm", "tab:green"), ("qemu-microvm", "QEMU microvm", "tab:red"),
         ("kvm-floor", "KVM floor", "tab:gray")]

out, panels = sys.argv[1], [a.rpartition("=")[::2] for a in sys.argv[2:]]
if not panels:
    sys.exit(__doc__)
fig, axes = plt.subplots(1, len(panels), figsize=(5.8 * len(panels), 4.4), squeeze=False)
for ax, (label, path) in zip(axes[0], panels):
    runs = {}
    for line in open(path):
        m = REP.match(line)
        if m:
            runs.setdefault(m.group(2), {})[int(m.group(1))] = float(m.group(3))
    for x, (key, name, color) in enumerate(NAMES):
        vals = list(runs.get(key, {}).values())
        if not vals:
            continue
        ax.scatter([x + (i % 7 - 3) * 0.04 for i in range(len(vals))], vals, s=12, color=color, alpha=0.6)
        med = statistics.median(vals)
        ax.hlines(med, x - 0.3, x + 0.3, color="black")
        ax.text(x + 0.32, med, f"{med:.0f} ms", va="center", fontsize=8)
    v, q = runs.get("vessel-vmm", {}), runs.get("qemu-microvm", {})
    pairs = [v[i] / q[i] for i in v if i in q]
    title = label.replace(" | ", "\n")
    if pairs:
        title += f"\nvessel / QEMU, paired: {statistics.median(pairs):.2f}× ({len(pairs)} rounds)"
    ax.set_title(title, fontsize=9)
    ax.set_xticks(range(len(NAMES)))
    ax.set_xticklabels([n for _, n, _ in NAMES])
    ax.set_yscale("log")
    ax.set_ylabel("process start → first console line (ms, log)")
    ax.set_xlim(-0.5, len(NAMES) - 0.2)
fig.suptitle("vessel-vmm vs QEMU microvm start-up, test-kit PVH guest, every run (lower is better)", fontsize=10)
fig.tight_layout()
fig.savefig(out, dpi=90)
