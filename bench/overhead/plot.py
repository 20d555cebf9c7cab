#!/usr/bin/python3
"""Plots (or prints) saved reports of `vessel bench overhead --json`: per workload, P = T_native /
T_place for the container and the VM (1.0 = no overhead), one panel per report.

Usage: bench/overhead/plot.py OUT.png 'LABEL=report.json' [...]   (python3-matplotlib)
       bench/overhead/plot.py --table report.json                   (the table, as docs show it)
"""
import json
import sys

COLOURS = {"container": "tab:blue", "vm": "tab:orange"}


def load(path):
    with open(path) as f:
        report = json.load(f)
    if not report.get("workloads"):
        sys.exit(f"{path}: no workloads (did the run fail?)")
    return report


def amount(n):
    for size, suffix in ((1e6, " M"), (1e3, " k")):
        if n >= size and n % size == 0:
            return f"{n / size:g}{suffix}"
    return f"{n:g}"


def table(report):
    places = report["places"]
    head = ["workload", "work"] + [f"T {p}" for p in places] + [f"P {p}" for p in places if p != "native"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for w in report["workloads"]:
        cells = [w["name"], f'{amount(w["work"])} {w["unit"]}']
        cells += [f'{w["places"][p]["median_seconds"] * 1e3:.1f} ms' for p in places]
        cells += [f'**{w["p"][p]:.2f}**' for p in places if p != "native"]
        print("| " + " | ".join(cells) + " |")
    host = report["where"]["host"]
    print(f'\n{report["runs"]} runs, scale {report["scale"]:g}; {host["date"]}, Linux {host["kernel"]}, '
          f'{host["cpus"]} CPUs ({host["cpu"]}); load {host["load_average_before"]} -> {host.get("load_average_after", "?")}')


def plot(out, runs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 3.8), squeeze=False)
    for ax, (label, report) in zip(axes[0], runs):
        names = [w["name"] for w in report["workloads"]]
        others = [p for p in report["places"] if p != "native"]
        width = 0.8 / max(len(others), 1)
        for k, place in enumerate(others):
            xs = [i + (k - (len(others) - 1) / 2) * width for i in range(len(names))]
            ps = [w["p"].get(place, 0) for w in report["workloads"]]
            ax.bar(xs, ps, width, label=place, color=COLOURS.get(place, "tab:gray"))
            for x, p in zip(xs, ps):
                ax.text(x, p + 0.02, f"{p:.2f}", ha="center", fontsize=8)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names)
        ax.set_ylabel("P = T native / T place (1 = no overhead)")
        top = max([w["p"].get(p, 0) for w in report["workloads"] for p in others] + [1.0])
        ax.set_ylim(0, top * 1.18)
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("vessel bench overhead: the same work natively, in a container, in a VM (medians)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if len(sys.argv) == 3 and sys.argv[1] == "--table":
    table(load(sys.argv[2]))
elif len(sys.argv) >= 3:
    plot(sys.argv[1], [(label, load(path)) for label, _, path in (a.rpartition("=") for a in sys.argv[2:])])
else:
    sys.exit(__doc__)
