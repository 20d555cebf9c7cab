#!/usr/bin/env python3
"""CPU-time traces of pool members (docs/daemon/pools.md, "Scheduling"): cumulative CPU time per
member over time, sampled from each member's cgroup every few ms, plotted as PNG.

  timeslice   three busy containers, shares 1, 2, 5, in a `timeslice` pool of 1 CPU (pinned to the
              host's last CPU), round W: the trace is a staircase, one member climbing at a time,
              each for T_i = A_i / sum A x W.
  best-effort a `priority` pool of 1 CPU with a bursty member (a busy loop, then 0.5 s asleep) and a
              busy `--best-effort` member (SCHED_IDLE): the latter climbs only while the former sleeps.

Usage (root): bench/pools/cpu_trace.py BUILD_DIR OUT_DIR [--round-ms 200] [--interval-ms 10]
Writes OUT_DIR/pools-timeslice.png, OUT_DIR/pools-best-effort.png and prints the measured figures
(per member: share of the CPU time, mean turn length) as JSON. Every vessel command must succeed.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from vesseld import start_vesseld

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def sh(*args, check=True):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return r


def last_cpu():
    online = open("/sys/devices/system/cpu/online").read().strip()
    return online.replace("-", ",").split(",")[-1]


def cpu_ns(cgroup):
    """A cgroup's CPU time: v1 cpuacct.usage (ns) or v2 cpu.stat usage_usec."""
    for root in ("/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"):
        try:
            return int(open(f"{root}{cgroup}/cpuacct.usage").read())
        except OSError:
            pass
    for line in open(f"/sys/fs/cgroup{cgroup}/cpu.stat"):
        key, value = line.split()
        if key == "usage_usec":
            return int(value) * 1000
    raise SystemExit(f"no CPU counter for cgroup {cgroup}")


def sample(cgroups, seconds, interval):
    """[(t_s, [ns per member])] every `interval` seconds, on absolute deadlines."""
    rows, t0 = [], time.monotonic()
    nxt = t0
    while nxt - t0 <= seconds:
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        rows.append((time.monotonic() - t0, [cpu_ns(c) for c in cgroups]))
        nxt += interval
    return rows


def turns(rows, i, interval):
    """Member i's turns: runs of consecutive steps in which it grew by more than half a step."""
    lengths, run = [], 0
    for (ta, a), (tb, b) in zip(rows, rows[1:]):
        if b[i] - a[i] > 0.5 * (tb - ta) * 1e9:
            run += 1
        elif run:
            lengths.append(run)
            run = 0
    # The first and the last run may be cut by the window.
    return [n * interval * 1e3 for n in lengths[1:]]


def plot(rows, names, title, path, note):
    fig, ax = plt.subplots(figsize=(8, 4.2))
    t = [r[0] * 1e3 for r in rows]
    for i, name in enumerate(names):
        ax.plot(t, [(r[1][i] - rows[0][1][i]) / 1e6 for r in rows], label=name, drawstyle="steps-post")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("cumulative CPU time (ms)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.text(0.01, 0.01, note, fontsize=7, alpha=0.7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--round-ms", type=int, default=200)
    ap.add_argument("--interval-ms", type=float, default=10)
    ap.add_argument("--seconds", type=float, default=1.2)
    a = ap.parse_args()
    build, interval = os.path.abspath(a.build), a.interval_ms / 1e3
    t = tempfile.mkdtemp(prefix="vessel-trace-")
    daemon, figures = None, {}
    try:
        root = f"{t}/rootfs"
        for d in ("bin", "proc", "sys", "dev", "tmp", "etc"):
            os.makedirs(f"{root}/{d}")
        shutil.copy("/bin/busybox", f"{root}/bin/busybox")
        for app in ("sh", "sleep"):
            os.symlink("busybox", f"{root}/bin/{app}")
        daemon, V = start_vesseld(build, t, "vessel-trace", extra=("--default-network", "none"))

        def run(name, pool, extra, command):
            sh(*V, "run", "--name", name, "--rootfs", root, "--memory", "32M", "--pool", pool, *extra, "--",
               "/bin/sh", "-c", command)

        def cgroups(pool, names):
            members = {m["name"]: m["cgroup"] for m in json.loads(sh(*V, "pool", "inspect", pool, "--json").stdout)["members"]}
            return [members[n] for n in names]

        cpu = last_cpu()
        host = f"this host ({os.cpu_count()} CPUs, pool on CPU {cpu}, kernel {os.uname().release})"
        # 1. timeslice, shares 1, 2, 5.
        sh(*V, "pool", "create", "ts", "--cpus", "1", "--memory", "512M", "--policy", "timeslice", "--round",
           f"{a.round_ms}ms", "--cpuset", cpu)
        names, shares = ["s1", "s2", "s5"], [1, 2, 5]
        for n, s in zip(names, shares):
            run(n, "ts", ["--share", str(s)], "while :; do :; done")
        time.sleep(1)
        rows = sample(cgroups("ts", names), a.seconds, interval)
        total = sum(rows[-1][1][i] - rows[0][1][i] for i in range(3))
        figures["timeslice"] = {
            "round_ms": a.round_ms, "interval_ms": a.interval_ms, "seconds": a.seconds, "host": host,
            "members": {n: {"share": s, "slice_ms_planned": a.round_ms * s / 8,
                            "cpu_fraction": (rows[-1][1][i] - rows[0][1][i]) / total,
                            "turns_ms": turns(rows, i, interval)} for i, (n, s) in enumerate(zip(names, shares))}}
        slices = ", ".join(f"T_{n[1:]} = {a.round_ms * s / 8:g} ms" for n, s in zip(names, shares))
        plot(rows, [f"{n} (share {s})" for n, s in zip(names, shares)],
             f"timeslice pool of 1 CPU, round W = {a.round_ms} ms: {slices}", f"{a.out}/pools-timeslice.png",
             f"cgroup CPU time sampled every {a.interval_ms:g} ms on {host}")
        for n in names:
            sh(*V, "rm", "-f", n)
        sh(*V, "pool", "rm", "ts")

        # 2. priority pool: a bursty member and a busy best-effort one.
        sh(*V, "pool", "create", "be", "--cpus", "1", "--memory", "512M", "--policy", "priority", "--cpuset", cpu)
        run("bursty", "be", [], "while :; do i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done; sleep 0.5; done")
        run("best-effort", "be", ["--best-effort"], "while :; do :; done")
        time.sleep(1)
        names = ["bursty", "best-effort"]
        rows = sample(cgroups("be", names), 4, 0.02)
        used = [rows[-1][1][i] - rows[0][1][i] for i in range(2)]
        inspect = json.loads(sh(*V, "pool", "inspect", "be", "--json").stdout)
        figures["best_effort"] = {"host": host, "cpus": {n: u / 4e9 for n, u in zip(names, used)},
                                  "sched_idle": {m["name"]: m["sched_idle"] for m in inspect["members"]}}
        plot(rows, ["bursty (busy loop, then 0.5 s asleep)", "best-effort (busy, SCHED_IDLE via cpu.idle)"],
             "priority pool of 1 CPU: the best-effort member runs only while the other sleeps",
             f"{a.out}/pools-best-effort.png", f"cgroup CPU time sampled every 20 ms on {host}")
        for n in names:
            sh(*V, "rm", "-f", n)
        sh(*V, "pool", "rm", "be")
        print(json.dumps(figures, indent=2))
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
