#!/usr/bin/env python3
"""Plots the network benchmarks' results files into one PNG (docs/benchmarks/net.png).

Usage: bench/net/plot.py CONTAINERS.txt VMS.txt RATE_LIMIT.txt OUT.png
CONTAINERS.txt / VMS.txt: the output of bench_container_net.sh / bench_vm_net.sh (lines
"WHO ROUND key=value ..."); RATE_LIMIT.txt: tx_rate_limit.py's output (its JSON line).
"""
import json
import statistics
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def rounds(path):
    """{who: {key: [values]}} from the "WHO ROUND k=v ..." lines of a results file."""
    out = {}
    for line in open(path):
        parts = line.split()
        if len(parts) < 3 or not parts[1].isdigit() or "=" not in parts[2]:
            continue
        for kv in parts[2:]:
            k, v = kv.split("=")
            out.setdefault(parts[0], {}).setdefault(k, []).append(float(v))
    return out


def bars(ax, data, whos, keys, labels, title, unit):
    width = 0.8 / len(whos)
    for i, who in enumerate(whos):
        meds = [statistics.median(data[who][k]) for k in keys]
        xs = [j + i * width for j in range(len(keys))]
        ax.bar(xs, meds, width, label=who)
        for x, k in zip(xs, keys):  # every round as a dot: the spread, not only the median
            ax.plot([x] * len(data[who][k]), data[who][k], "k.", markersize=3)
    ax.set_xticks([j + width * (len(whos) - 1) / 2 for j in range(len(keys))], labels)
    ax.set_ylabel(unit)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    containers, vms = rounds(sys.argv[1]), rounds(sys.argv[2])
    limits = next(json.loads(l) for l in open(sys.argv[3]) if l.startswith("["))
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), gridspec_kw={"width_ratios": [2, 1, 2, 1.3]})
    bars(axes[0], containers, ["vessel", "podman"], ["tcp_in", "tcp_out"], ["host→container", "container→host"],
         "containers over the bridge (PVM host, iperf3)", "Gbit/s")
    bars(axes[1], containers, ["vessel", "podman"], ["conn"], ["HTTP via -p 127.0.0.1"],
         "connection rate (ab -c 8)", "requests/s")
    bars(axes[2], vms, ["vessel", "qemu", "qemu_vhost"], ["host_to_guest", "guest_to_host"],
         ["host→guest", "guest→host"], "VM over a tap (nested KVM host: ratios only)", "Gbit/s")
    ax = axes[3]
    conf = [l["configured"] / 1e6 for l in limits]
    got = [l["achieved"] / 1e6 for l in limits]
    ax.plot(conf, conf, "--", color="grey", label="configured")
    ax.plot(conf, got, "o", label="achieved")
    ax.set_xlabel("configured MB/s")
    ax.set_ylabel("MB/s")
    ax.set_title("tx rate limiter (PVM host)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(sys.argv[4], dpi=90)


if __name__ == "__main__":
    main()
