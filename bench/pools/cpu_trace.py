#!/usr/bin/env python3
"""CPU-time traces of pool members (docs/daemon/pools.md, "Scheduling"): cumulative CPU time per
member over time, sampled from each member's cgroup every few ms, plotted as PNG. Every pool has
1 CPU, pinned to the host's last CPU.

  proportional three busy containers, shares 1, 2, 5: three straight lines, slopes 1 : 2 : 5.
  priority     a bursty member at priority 10 (a busy loop, then 0.5 s asleep) and two busy ones at
               priority 0: the low ones climb only while the high one sleeps.
  timeslice    three busy containers, shares 1, 2, 5, round W: a staircase, one member climbing at
               a time, each for T_i = A_i / sum A x W.
  best-effort  a `priority` pool with a bursty member and a busy `--best-effort` member
               (SCHED_IDLE): the latter climbs only while the former sleeps.

Usage (root): bench/pools/cpu_trace.py BUILD_DIR OUT_DIR [--round-ms 200] [--interval-ms 10]
Writes OUT_DIR/pools-{proportional,priority,timeslice,best-effort}.png and prints the measured
figures (per member: its part of the CPU time or its CPUs; timeslice: the turn lengths) as JSON.
Every vessel command must succeed. Needs matplotlib (Debian python3-matplotlib).
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


BUSY = "while :; do :; done"
BURSTY = "while :; do i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; sleep 0.5; done"


class Trace:
    """One vesseld, and the pools whose members' CPU time it samples and plots."""

    def __init__(self, V, root, out, host):
        self.V, self.root, self.out, self.host = V, root, out, host
        self.cpu = last_cpu()

    def run(self, name, pool, extra, command):
        sh(*self.V, "run", "--name", name, "--rootfs", self.root, "--memory", "32M", "--pool", pool, *extra, "--",
           "/bin/sh", "-c", command)

    def measure(self, pool, policy, pool_flags, members, seconds, interval):
        """Creates `pool`, runs `members` [(name, flags, command)], samples them; then removes all."""
        sh(*self.V, "pool", "create", pool, "--cpus", "1", "--memory", "512M", "--policy", policy, "--cpuset",
           self.cpu, *pool_flags)
        for name, flags, command in members:
            self.run(name, pool, flags, command)
        time.sleep(1)  # all started and busy
        inspect = json.loads(sh(*self.V, "pool", "inspect", pool, "--json").stdout)
        by_name = {m["name"]: m for m in inspect["members"]}
        names = [m[0] for m in members]
        rows = sample([by_name[n]["cgroup"] for n in names], seconds, interval)
        for n in names:
            sh(*self.V, "rm", "-f", n)
        sh(*self.V, "pool", "rm", pool)
        used = {n: rows[-1][1][i] - rows[0][1][i] for i, n in enumerate(names)}
        return rows, used, by_name

    def plot(self, rows, labels, title, name, interval):
        plot(rows, labels, title, f"{self.out}/pools-{name}.png",
             f"cgroup CPU time sampled every {interval * 1e3:g} ms on {self.host}")


def one_two_five(t, policy, flags, seconds, interval):
    """Shares 1, 2, 5 of busy members: (rows, {name: part of the pool's CPU time})."""
    names, shares = ["s1", "s2", "s5"], [1, 2, 5]
    members = [(n, ["--share", str(s)], BUSY) for n, s in zip(names, shares)]
    rows, used, _ = t.measure(policy, policy, flags, members, seconds, interval)
    total = sum(used.values())
    return rows, {n: used[n] / total for n in names}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--round-ms", type=int, default=200)
    ap.add_argument("--interval-ms", type=float, default=10)
    ap.add_argument("--seconds", type=float, default=1.2)
    a = ap.parse_args()
    build, out, interval = os.path.abspath(a.build), os.path.abspath(a.out), a.interval_ms / 1e3
    tmp = tempfile.mkdtemp(prefix="vessel-trace-")
    daemon, figures = None, {}
    try:
        root = f"{tmp}/rootfs"
        for d in ("bin", "proc", "sys", "dev", "tmp", "etc"):
            os.makedirs(f"{root}/{d}")
        shutil.copy("/bin/busybox", f"{root}/bin/busybox")
        for app in ("sh", "sleep"):
            os.symlink("busybox", f"{root}/bin/{app}")
        daemon, V = start_vesseld(build, tmp, "vessel-trace", extra=("--default-network", "none"))
        cpu = last_cpu()
        host = f"this host ({os.cpu_count()} CPUs, pool on CPU {cpu}, kernel {os.uname().release})"
        t = Trace(V, root, out, host)
        labels = ["s1 (share 1)", "s2 (share 2)", "s5 (share 5)"]

        # 1. proportional: weights.
        rows, parts = one_two_five(t, "proportional", [], 2, 0.02)
        figures["proportional"] = {"host": host, "cpu_fraction": parts}
        t.plot(rows, labels, "proportional pool of 1 CPU, shares 1, 2, 5: cpu.weight, all run at once",
               "proportional", 0.02)

        # 2. priority: the low ones get what the high one leaves.
        prio = [("high", ["--priority", "10"], BURSTY), ("low1", ["--priority", "0"], BUSY),
                ("low2", ["--priority", "0"], BUSY)]
        rows, used, _ = t.measure("pr", "priority", [], prio, 4, 0.02)
        figures["priority"] = {"host": host, "cpus": {n: u / 4e9 for n, u in used.items()}}
        t.plot(rows, ["high (priority 10: a busy loop, then 0.5 s asleep)", "low1 (priority 0, busy)",
                      "low2 (priority 0, busy)"],
               "priority pool of 1 CPU: the low ones run only while the high one sleeps", "priority", 0.02)

        # 3. timeslice: turns.
        rows, parts = one_two_five(t, "timeslice", ["--round", f"{a.round_ms}ms"], a.seconds, interval)
        figures["timeslice"] = {
            "round_ms": a.round_ms, "interval_ms": a.interval_ms, "seconds": a.seconds, "host": host,
            "members": {n: {"slice_ms_planned": a.round_ms * s / 8, "cpu_fraction": parts[n],
                            "turns_ms": turns(rows, i, interval)}
                        for i, (n, s) in enumerate(zip(["s1", "s2", "s5"], [1, 2, 5]))}}
        slices = ", ".join(f"T_{s} = {a.round_ms * s / 8:g} ms" for s in (1, 2, 5))
        t.plot(rows, labels, f"timeslice pool of 1 CPU, round W = {a.round_ms} ms: {slices}", "timeslice", interval)

        # 4. best-effort: SCHED_IDLE beside a bursty member.
        be = [("bursty", [], BURSTY), ("best-effort", ["--best-effort"], BUSY)]
        rows, used, members = t.measure("be", "priority", [], be, 4, 0.02)
        figures["best_effort"] = {"host": host, "cpus": {n: u / 4e9 for n, u in used.items()},
                                  "sched_idle": {n: m.get("sched_idle") for n, m in members.items()}}
        t.plot(rows, ["bursty (busy loop, then 0.5 s asleep)", "best-effort (busy, SCHED_IDLE via cpu.idle)"],
               "priority pool of 1 CPU: the best-effort member runs only while the other sleeps", "best-effort", 0.02)
        print(json.dumps(figures, indent=2))
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
