#!/usr/bin/env python3
"""Side-by-side boot benchmark of VMM command lines.

For each configuration, runs the command N times (interleaved round-robin so
that host noise hits every configuration alike) and measures:
  marker_ms : wall time from process start to the first occurrence of the
              marker string on the VMM's stdout (the guest's serial console)
  exit_ms   : wall time from process start to process exit
  rss_mib   : peak RSS of the VMM process. With --rsswrap (recommended) it
              comes from a tiny static launcher (rsswrap.c); plain ru_maxrss
              of a child forked from Python includes Python's own ~15 MiB.
  rss_marker_mib : VmRSS of the VMM process when the marker appeared

A run fails if the marker is not seen, if the process exits with another status
than the one expected of that configuration (--expect NAME=STATUS, default 0),
if the output contains a KVM internal error / emulation failure (QEMU then
stays alive with the VM paused), or if the run exceeds the timeout. Failures
are reported with the last output, and the script then exits 1: a failing
command is never reported as a time.

Copied into the project from the team's peer scripts (peers/vmm) and changed:
the exit status is checked, and any failure fails the whole run.

Usage:
  vmm_boot_bench.py --reps 7 --timeout 60 --marker BOOTED \
      --config 'name=cmd line ...' --config 'name2=...' --expect name2=1
"""
import argparse
import os
import re
import select
import shlex
import signal
import statistics
import subprocess
import sys
import time

FATAL_PATTERNS = [b"KVM internal error", b"emulation failure",
                  b"Kernel panic", b"Fatal:"]


def vmrss_mib(pid, wrapped):
    """VmRSS of pid, or of its (single) child when running under rsswrap."""
    try:
        if wrapped:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
            if not kids:
                return None
            pid = int(kids[0])
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None


def run_once(cmd, marker, timeout, rsswrap=None, expect_rc=0):
    if rsswrap:
        cmd = [rsswrap] + cmd
    rss_marker = None
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    fd = p.stdout.fileno()
    os.set_blocking(fd, False)
    buf = b""
    t_marker = None
    failure = None
    status = None
    rusage = None
    deadline = t0 + timeout
    eof = False
    while True:
        now = time.monotonic()
        if now > deadline:
            failure = "timeout after %.0f s" % timeout
            break
        if not eof:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    eof = True
                else:
                    buf += chunk
                    if t_marker is None and marker in buf:
                        t_marker = time.monotonic()
                        rss_marker = vmrss_mib(p.pid, bool(rsswrap))
                    for pat in FATAL_PATTERNS:
                        if pat in buf:
                            failure = "guest/VMM failure: %s" % pat.decode()
                    if failure:
                        break
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status, rusage = st, ru
            # drain remaining output
            try:
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    buf += chunk
            except BlockingIOError:
                pass
            if t_marker is None and marker in buf:
                t_marker = time.monotonic()
            break
        if eof:
            time.sleep(0.002)
    t_exit = time.monotonic()
    if status is None:  # still running: kill the process group we created
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status, rusage = os.wait4(p.pid, 0)
        t_exit = None
    p.stdout.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    peak = rusage.ru_maxrss / 1024.0 if rusage else None
    if rsswrap:
        m = re.search(rb"RSSWRAP maxrss_kb=(\d+)", buf)
        peak = int(m.group(1)) / 1024.0 if m else None
    if not failure and t_marker is None:
        failure = "marker not seen"
    if not failure and p.returncode != expect_rc:
        failure = "exit status %d, expected %d" % (p.returncode, expect_rc)
    res = {
        "marker_ms": (t_marker - t0) * 1000 if t_marker else None,
        "exit_ms": (t_exit - t0) * 1000 if (t_exit and not failure) else None,
        "rss_mib": peak,
        "rss_marker_mib": rss_marker,
        "rc": p.returncode,
        "failure": failure,
        "tail": buf[-1500:].decode("utf-8", "replace"),
    }
    return res


def fmt(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    return "median %8.1f  min %8.1f  max %8.1f" % (
        statistics.median(vals), min(vals), max(vals))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", action="append", required=True,
                    help="name=command line")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--marker", default="BOOTED")
    ap.add_argument("--rsswrap", default=None,
                    help="path to the rsswrap launcher (accurate peak RSS)")
    ap.add_argument("--expect", action="append", default=[],
                    help="NAME=STATUS: the exit status a good run of NAME has (default 0)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="unrecorded runs of each config first (page cache, first-use costs); "
                         "they must succeed too")
    ap.add_argument("--max-failures", type=int, default=1,
                    help="stop running a config after this many failures")
    args = ap.parse_args()
    marker = args.marker.encode()
    configs = []
    for c in args.config:
        name, _, cmd = c.partition("=")
        configs.append((name, shlex.split(cmd)))
    expect = {name: 0 for name, _ in configs}
    for e in args.expect:
        name, _, rc = e.partition("=")
        if name not in expect:
            ap.error("--expect %s: no such config" % name)
        expect[name] = int(rc)
    results = {name: [] for name, _ in configs}
    failures = {name: 0 for name, _ in configs}
    for rep in range(args.warmup):
        for name, cmd in configs:
            r = run_once(cmd, marker, args.timeout, args.rsswrap, expect[name])
            if r["failure"]:
                print("[warm-up] %s FAIL: %s; output tail:" % (name, r["failure"]))
                for line in r["tail"].splitlines()[-12:]:
                    print("     | " + line[:160])
                print("\nFAILED: %s: no figures are reported for a run that failed" % name)
                return 1
    for rep in range(args.reps):
        for name, cmd in configs:
            if failures[name] >= args.max_failures:
                continue
            r = run_once(cmd, marker, args.timeout, args.rsswrap, expect[name])
            results[name].append(r)
            if r["failure"]:
                failures[name] += 1
            print("[rep %d] %-16s marker=%s exit=%s rss=%s%s" % (
                rep, name,
                "%.1fms" % r["marker_ms"] if r["marker_ms"] else "-",
                "%.1fms" % r["exit_ms"] if r["exit_ms"] else "-",
                "%.1fMiB" % r["rss_mib"] if r["rss_mib"] else "-",
                "  FAIL: " + r["failure"] if r["failure"] else ""),
                flush=True)
    print()
    for name, cmd in configs:
        rs = results[name]
        ok = [r for r in rs if not r["failure"]]
        print("== %s  (%d ok / %d runs)" % (name, len(ok), len(rs)))
        print("   cmd: %s" % " ".join(shlex.quote(x) for x in cmd))
        print("   to marker  (ms): %s" % fmt([r["marker_ms"] for r in ok]))
        print("   to exit    (ms): %s" % fmt([r["exit_ms"] for r in ok]))
        print("   peak RSS  (MiB): %s" % fmt([r["rss_mib"] for r in ok]))
        print("   RSS@marker(MiB): %s" % fmt([r["rss_marker_mib"] for r in ok]))
        bad = [r for r in rs if r["failure"]]
        if bad:
            print("   first failure: %s; output tail:" % bad[0]["failure"])
            for line in bad[0]["tail"].splitlines()[-12:]:
                print("     | " + line[:160])
    failed = [name for name, _ in configs if failures[name] or not results[name]]
    if failed:
        print("\nFAILED: %s: no figures are reported for a run that failed" % ", ".join(failed))
        return 1
    # ratios of medians vs the first config
    base = [r for r in results[configs[0][0]] if not r["failure"]]
    if base and len(configs) > 1:
        bm = statistics.median([r["marker_ms"] for r in base])
        br = statistics.median([r["rss_mib"] for r in base])
        be = statistics.median([r["exit_ms"] for r in base])
        print("\nratios of medians vs %s (marker time, peak RSS, exit time):" % configs[0][0])
        for name, _ in configs[1:]:
            ok = [r for r in results[name] if not r["failure"]]
            if ok:
                print("   %-16s x%.2f  x%.2f  x%.2f" % (
                    name, statistics.median([r["marker_ms"] for r in ok]) / bm,
                    statistics.median([r["rss_mib"] for r in ok]) / br,
                    statistics.median([r["exit_ms"] for r in ok]) / be))
        # Per round: the runs of one round follow each other, so their ratio sees the same load.
        print("paired ratios, %s / each config, run by run in the same round "
              "(median [quartiles] of marker-time ratios):" % configs[0][0])
        for name, _ in configs[1:]:
            pairs = [a["marker_ms"] / b["marker_ms"] for a, b in zip(results[configs[0][0]], results[name])]
            if len(pairs) >= 2:
                q1, _, q3 = statistics.quantiles(pairs, n=4)
                print("   %-16s x%.2f  [%.2f, %.2f]  (%d rounds)" % (
                    name, statistics.median(pairs), q1, q3, len(pairs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
