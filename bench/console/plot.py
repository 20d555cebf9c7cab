#!/usr/bin/python3
"""Bar chart of saved outputs of bench/console/bench_exec.sh (vessel exec vs podman exec medians).

Usage: bench/console/plot.py OUT.png 'LABEL=saved-output.txt' [...]   (python3-matplotlib)
"""
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROW = re.compile(r"^(pipes|-t .*?)\s{2,}([\d.]+)\s+([\d.]+)\s+([\d.]+)x")
out, runs = sys.argv[1], [a.rpartition("=")[::2] for a in sys.argv[2:]]
if not runs:
    sys.exit(__doc__)
fig, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 3.6), squeeze=False)
for ax, (label, path) in zip(axes[0], runs):
    rows = [m.groups() for m in map(ROW.match, open(path)) if m]
    if not rows:
        sys.exit(f"{path}: no result rows (did the run fail?)")
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [float(r[1]) for r in rows], 0.4, label="vessel exec", color="tab:green")
    ax.bar([i + 0.2 for i in x], [float(r[2]) for r in rows], 0.4, label="podman exec (runc)", color="tab:red")
    for i, r in enumerate(rows):
        ax.text(i, max(float(r[1]), float(r[2])) * 1.02, f"{float(r[3]):.2f}×", ha="center", fontsize=9)
    ax.set_xticks(list(x))
    ax.set_xticklabels(["pipes" if r[0] == "pipes" else "pty (-t)" for r in rows])
    ax.set_ylabel("median ms (lower is better)")
    ax.set_ylim(0, max(max(float(r[1]), float(r[2])) for r in rows) * 1.15)
    ax.set_title(label, fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
fig.suptitle("exec of /bin/true into a running container, interleaved runs", fontsize=10)
fig.tight_layout()
fig.savefig(out, dpi=90)
