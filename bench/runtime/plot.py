#!/usr/bin/python3
"""Bars of vessel-runtime's median over crun's, per metric, from bench_runtime.sh's output.

Usage: bench/runtime/plot.py RESULTS.txt OUT.png   (Debian python3 with python3-matplotlib)
Below 1: vessel-runtime is faster (or smaller); the dashed line is issue 18's goal, 0.8.
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

medians = {}  # (metric, runtime) -> median
for line in open(sys.argv[1]):
    cells = line.split()
    if len(cells) == 6 and ":" in cells[0] and not line.startswith("#"):
        medians[(cells[0], cells[1])] = float(cells[2])
metrics = [m for (m, rt) in medians if rt == "vessel-runtime" and (m, "crun") in medians]
ratios = [medians[(m, "vessel-runtime")] / medians[(m, "crun")] for m in metrics]
fig, ax = plt.subplots(figsize=(9, 0.32 * len(metrics) + 1.4))
ax.barh(metrics, ratios, color=["tab:green" if r <= 0.8 else "tab:orange" if r <= 1 else "tab:red" for r in ratios])
ax.axvline(1.0, color="black", linewidth=1)
ax.axvline(0.8, color="black", linewidth=1, linestyle="--")
ax.invert_yaxis()
ax.set_xlabel("vessel-runtime / crun  (median; < 1: vessel-runtime faster or smaller; dashed: goal 0.8)")
ax.set_title("vessel-runtime vs crun 1.8.1, interleaved, same run")
for i, r in enumerate(ratios):
    ax.text(r, i, f" {r:.2f}x", va="center", fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
