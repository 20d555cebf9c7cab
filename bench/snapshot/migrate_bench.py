#!/usr/bin/env python3
"""Live migration: vessel-vmm against QEMU, interleaved round by round, two processes on this host.

Both run the test-kit guest snapshot_counter.elf with 256 MiB of RAM, counting in a register:
  idle     RAM written only while booting; the vCPU counts, touching one page
  filled   first one word written into every page from 32 MiB up (224 MiB of data), then counting
Per round and VMM, after the guest printed "tick 1":
  vessel   receiver: vessel-vmm --migrate-from unix:IN; sender: PUT /migration/send
           {"destination_url": "unix:IN"} (downtime_ms 50, the default); the answer's downtime_ms
           (pause -> the receiver's Done: its build included), its sender's part (pause -> state
           sent, QEMU's definition) and total_ms; "request" is the PUT as the client sees it
  QEMU     receiver: -incoming unix:IN; sender: migrate-set-parameters downtime-limit 50,
           max-bandwidth 10 GiB/s (the default 128 MiB/s would measure QEMU's throttle), then
           migrate unix:IN, polled until completed; query-migrate's downtime (measured on the
           sender: stop -> the last bytes sent; the receiver's load comes after) and total-time;
           "request" from migrate to completed as the client sees it
Checked, not timed: the receiver prints its next tick and ends with the guest (vessel: exit 0 on
both sides; QEMU: both quit with exit 0 after `quit`); the sender answered success. Medians and
vessel/QEMU ratios.
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from snapshot_bench import QMP, Console, api, ms, stop, wait_listening, wait_path  # noqa: E402

import json  # noqa: E402

TICKS = 40  # vessel's guest ends by itself in the receiver after this many ticks (checked: exit 0); enough
            # that it does not end on the sender before a loaded machine finished the migration


def check_exit(p, name, want=0, timeout=60):
    try:
        code = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p)
        raise RuntimeError("%s did not exit" % name)
    if code != want:
        raise RuntimeError("%s exited with %d, not %d" % (name, code, want))


def vessel_round(vmm, guest, d, fill, timeout):
    src_sock, dst_in = os.path.join(d, "v1.sock"), os.path.join(d, "vin.sock")
    args = "ticks=%d" % TICKS + (" fill" if fill else "")
    dst = subprocess.Popen([vmm, "--migrate-from", "unix:" + dst_in], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src = subprocess.Popen([vmm, "--api-sock", src_sock, "--kernel", guest, "--cmdline", args, "--mem-mib", "256"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        dcon, scon = Console(dst), Console(src)
        if not scon.wait(r"tick 1\r?\n", timeout):
            raise RuntimeError("vessel-vmm: the guest did not reach tick 1")
        wait_listening(src_sock)
        wait_path(dst_in)  # no probe connection: the receiver takes the first one only
        for attempt in range(100):  # bound but not listening yet: refused, and the VM goes on
            try:
                t = time.monotonic()
                answer = json.loads(api(src_sock, "PUT", "/migration/send", {"destination_url": "unix:" + dst_in}))
                request = ms(t, time.monotonic())
                break
            except RuntimeError as e:
                if "Connection refused" not in str(e) or attempt == 99:
                    raise
                time.sleep(0.01)
        if not dcon.wait(r"done %d\r?\n" % TICKS, timeout):
            raise RuntimeError("vessel-vmm: the migrated guest did not finish")
        check_exit(src, "vessel-vmm sender")
        check_exit(dst, "vessel-vmm receiver")
        return {"downtime": answer["downtime_ms"],
                "downtime_src": answer["downtime_ms"] - answer["downtime_parts_ms"]["receiver"],
                "total": answer["total_ms"], "request": request, "rounds": answer["rounds"]}
    finally:
        stop(src)
        stop(dst)


def wait_qemu_migration(qs, timeout):
    """Polls query-migrate on the sender until it completed (its answer); raises if it failed or stuck."""
    deadline = time.monotonic() + timeout
    while True:
        info = qs.cmd("query-migrate")
        if info.get("status") in ("completed", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("QEMU: migration stuck in %s" % info.get("status"))
        time.sleep(0.0005)
    if info.get("status") != "completed":
        raise RuntimeError("QEMU: migration %s: %s" % (info.get("status"), info.get("error-desc", "")))
    return info


def qemu_round(qemu, guest, d, fill, timeout):
    args = "ticks=100000000" + (" fill" if fill else "")
    base = shlex.split(qemu) + ["-kernel", guest, "-append", args]
    q1, q2, dst_in = os.path.join(d, "q1.sock"), os.path.join(d, "q2.sock"), os.path.join(d, "qin.sock")
    dst = subprocess.Popen(base + ["-qmp", "unix:%s,server=on,wait=off" % q2, "-incoming", "unix:" + dst_in],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src = subprocess.Popen(base + ["-qmp", "unix:%s,server=on,wait=off" % q1], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        dcon, scon = Console(dst), Console(src)
        if not scon.wait(r"tick 1\r?\n", timeout):
            raise RuntimeError("QEMU: the guest did not reach tick 1")
        qs, qd = QMP(q1), QMP(q2)
        qs.cmd("migrate-set-parameters", **{"downtime-limit": 50, "max-bandwidth": 10 << 30})
        t = time.monotonic()
        qs.cmd("migrate", uri="unix:" + dst_in)
        info = wait_qemu_migration(qs, timeout)
        request = ms(t, time.monotonic())
        dcon.mark()
        if not dcon.wait(r"tick \d+\r?\n", timeout):
            raise RuntimeError("QEMU: the migrated guest did not go on")
        if qd.cmd("query-status")["status"] != "running":
            raise RuntimeError("QEMU: the receiver is not running")
        for q in (qs, qd):
            try:
                q.cmd("quit")
            except (OSError, ValueError, json.JSONDecodeError):
                pass  # the reply may not come before the socket closes
        check_exit(src, "QEMU sender")
        check_exit(dst, "QEMU receiver")
        return {"downtime": float(info["downtime"]), "downtime_src": float(info["downtime"]),
                "total": float(info["total-time"]), "request": request,
                "rounds": float(info.get("ram", {}).get("dirty-sync-count", 0))}
    finally:
        stop(src)
        stop(dst)


LABELS = [("downtime", "downtime, as the VMM reports it (ms)"),
          ("downtime_src", "downtime, sender's part: pause -> sent (ms)"), ("total", "total time, as the VMM reports it (ms)"),
          ("request", "request -> done, seen by the client (ms)"), ("rounds", "rounds (QEMU: dirty syncs)")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--qemu", required=True, help="QEMU command line without -kernel/-append/-qmp/-incoming")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    for fill in (False, True):
        kind = "filled" if fill else "idle"
        res = {"vessel": {k: [] for k, _ in LABELS}, "qemu": {k: [] for k, _ in LABELS}}
        with tempfile.TemporaryDirectory(dir="/tmp") as d:
            for n in range(a.rounds):
                for name, fn in (("vessel", lambda: vessel_round(a.vmm, a.guest, d, fill, a.timeout)),
                                 ("qemu", lambda: qemu_round(a.qemu, a.guest, d, fill, a.timeout))):
                    r = fn()
                    for k in r:
                        res[name][k].append(r[k])
                    print("[%s round %d] %-6s " % (kind, n, name) + " ".join("%s %.2f" % (k, r[k]) for k, _ in LABELS),
                          flush=True)
        print("\n%-44s %12s %12s %10s" % ("%s 256 MiB guest, median of %d" % (kind, a.rounds), "vessel", "QEMU",
                                         "vessel/QEMU"))
        for k, label in LABELS:
            v, q = statistics.median(res["vessel"][k]), statistics.median(res["qemu"][k])
            print("%-44s %12.2f %12.2f %10.3f" % (label, v, q, v / q if q else float("nan")))
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
