#!/usr/bin/env python3
"""vessel-vmm snapshots against QEMU's (migrate to a file / -incoming), interleaved round by round.

Both VMMs run the same test-kit guest (snapshot_counter.elf with "fill": one word written into
every 4 KiB page from 32 MiB to the end of its 256 MiB, then counting in ring 3). Per round and
VMM, after the guest prints "tick 1":
  pause, resume      PATCH /vm Paused / Resumed        QMP stop / cont
                     (20 pairs, each VMM's request on one kept-open connection; their median)
  save               pause + PUT /snapshot/create       stop + migrate "exec:cat > FILE" until completed
  restore            new process: start -> running      new process -incoming defer: start -> running
                     (PUT /snapshot/load resume_vm)     (migrate-incoming "exec:cat FILE", cont)
  restore (load)     the PUT alone                       from migrate-incoming to running
  restore, Uffd      vessel-uffd-handler and a new vessel-vmm started, PUT /snapshot/load with
                     mem_backend Uffd: start -> running, and the PUT alone (against QEMU's restore)
Every restored VM must print its next tick (checked, not timed). Medians and vessel/QEMU ratios.
"""
import argparse
import http.client
import json
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(120)
        self.sock.connect(self.path)


def api(sock, method, path, body=None, conn=None):
    """One request; on `conn` (kept open, as QMP's socket is) or on a connection of its own."""
    c = conn or UnixHTTP(sock)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    if r.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data.decode(errors="replace")))
    return data


class Console:
    """Reads a child's stdout without blocking; wait() looks for a regex in what came since mark()."""

    def __init__(self, p):
        self.p, self.buf, self.at = p, b"", 0
        os.set_blocking(p.stdout.fileno(), False)

    def mark(self):
        self._drain()
        self.at = len(self.buf)

    def _drain(self):
        while True:
            try:
                chunk = os.read(self.p.stdout.fileno(), 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.buf += chunk

    def wait(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern.encode())
        while time.monotonic() < deadline:
            self._drain()
            if rx.search(self.buf, self.at):
                return True
            if self.p.poll() is not None:
                self._drain()
                return bool(rx.search(self.buf, self.at))
            time.sleep(0.001)
        return False


def wait_path(path, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.0005)


def wait_listening(path, timeout=60):
    wait_path(path, timeout)
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.0002)
        finally:
            s.close()


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait()


def ms(t0, t1):
    return (t1 - t0) * 1000


PAUSE_PAIRS = 20


def pause_resume(pause, resume):
    """The medians of PAUSE_PAIRS pause/resume pairs, 2 ms apart (one pair is at the mercy of the
    scheduler on a loaded 2-core machine)."""
    p, r = [], []
    for _ in range(PAUSE_PAIRS):
        t = time.monotonic(); pause(); p.append(ms(t, time.monotonic()))
        t = time.monotonic(); resume(); r.append(ms(t, time.monotonic()))
        time.sleep(0.002)
    return statistics.median(p), statistics.median(r)


def vessel_round(vmm, guest, d, timeout, handler=None):
    r = {}
    s1, s2 = os.path.join(d, "v1.sock"), os.path.join(d, "v2.sock")
    state, mem = os.path.join(d, "v.state"), os.path.join(d, "v.mem")
    p = subprocess.Popen([vmm, "--api-sock", s1, "--kernel", guest, "--cmdline", "fill ticks=100000000",
                          "--mem-mib", "256"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        con = Console(p)
        if not con.wait(r"tick 1\r?\n", timeout):
            raise RuntimeError("vessel-vmm: the guest did not reach tick 1")
        wait_listening(s1)
        c = UnixHTTP(s1)
        r["pause"], r["resume"] = pause_resume(lambda: api(s1, "PATCH", "/vm", {"state": "Paused"}, c),
                                               lambda: api(s1, "PATCH", "/vm", {"state": "Resumed"}, c))
        c.close()
        t = time.monotonic()
        api(s1, "PATCH", "/vm", {"state": "Paused"})
        api(s1, "PUT", "/snapshot/create", {"snapshot_type": "Full", "snapshot_path": state, "mem_file_path": mem})
        r["save"] = ms(t, time.monotonic())
        r["size"] = (os.stat(state).st_blocks + os.stat(mem).st_blocks) * 512 / 2**20
    finally:
        stop(p)
    t0 = time.monotonic()
    p = subprocess.Popen([vmm, "--api-sock", s2], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        con = Console(p)
        wait_listening(s2)
        t1 = time.monotonic()
        api(s2, "PUT", "/snapshot/load", {"snapshot_path": state, "resume_vm": True,
                                          "mem_backend": {"backend_type": "File", "backend_path": mem}})
        t2 = time.monotonic()
        r["restore"], r["restore_load"] = ms(t0, t2), ms(t1, t2)
        if not con.wait(r"tick \d+\r?\n", timeout):
            raise RuntimeError("vessel-vmm: the restored guest did not go on")
    finally:
        stop(p)
    if handler:
        r["restore_uffd"], r["restore_uffd_load"] = vessel_uffd_restore(vmm, handler, d, state, mem, timeout)
    for f in (state, mem):
        os.unlink(f)
    return r


def vessel_uffd_restore(vmm, handler, d, state, mem, timeout):
    """The same snapshot through the Uffd backend: the handler and the VMM start together."""
    hs, s3 = os.path.join(d, "h.sock"), os.path.join(d, "v3.sock")
    t0 = time.monotonic()
    h = subprocess.Popen([handler, "--mem-file", mem, "--socket", hs, "--quiet"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p = subprocess.Popen([vmm, "--api-sock", s3], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        con = Console(p)
        wait_listening(s3)
        wait_path(hs)
        t1 = time.monotonic()
        api(s3, "PUT", "/snapshot/load", {"snapshot_path": state, "resume_vm": True,
                                          "mem_backend": {"backend_type": "Uffd", "backend_path": hs}})
        t2 = time.monotonic()
        if not con.wait(r"tick \d+\r?\n", timeout):
            raise RuntimeError("vessel-vmm: the guest restored through Uffd did not go on")
    finally:
        stop(p)
        stop(h)
    return ms(t0, t2), ms(t1, t2)


class QMP:
    def __init__(self, path, timeout=60):
        wait_path(path, timeout)
        deadline = time.monotonic() + timeout
        while True:
            self.s = socket.socket(socket.AF_UNIX)
            try:
                self.s.connect(path)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)
        self.f = self.s.makefile("rwb")
        self._reply()
        self.cmd("qmp_capabilities")

    def _reply(self):
        while True:
            msg = json.loads(self.f.readline())
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        m = self._reply()
        if "error" in m:
            raise RuntimeError("QMP %s: %s" % (name, m["error"]))
        return m.get("return")


def qemu_round(qemu, guest, d, timeout):
    r = {}
    base = shlex.split(qemu) + ["-kernel", guest, "-append", "fill ticks=100000000"]
    q1, q2, snap = os.path.join(d, "q1.sock"), os.path.join(d, "q2.sock"), os.path.join(d, "q.snap")
    p = subprocess.Popen(base + ["-qmp", "unix:%s,server=on,wait=off" % q1], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        con = Console(p)
        if not con.wait(r"tick 1\r?\n", timeout):
            raise RuntimeError("QEMU: the guest did not reach tick 1")
        q = QMP(q1)
        r["pause"], r["resume"] = pause_resume(lambda: q.cmd("stop"), lambda: q.cmd("cont"))
        t = time.monotonic()
        q.cmd("stop")
        q.cmd("migrate", uri="exec:cat > %s" % shlex.quote(snap))
        while q.cmd("query-migrate").get("status") not in ("completed", "failed", "cancelled"):
            time.sleep(0.0005)
        if q.cmd("query-migrate").get("status") != "completed":
            raise RuntimeError("QEMU: migration to file failed")
        r["save"] = ms(t, time.monotonic())
        r["size"] = os.stat(snap).st_blocks * 512 / 2**20
    finally:
        stop(p)
    t0 = time.monotonic()
    p = subprocess.Popen(base + ["-qmp", "unix:%s,server=on,wait=off" % q2, "-incoming", "defer"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        con = Console(p)
        q = QMP(q2)
        t1 = time.monotonic()
        q.cmd("migrate-incoming", uri="exec:cat %s" % shlex.quote(snap))
        deadline = time.monotonic() + timeout
        while True:
            st = q.cmd("query-status")["status"]
            if st == "running":
                break
            if st in ("paused", "postmigrate"):
                q.cmd("cont")
            if time.monotonic() > deadline:
                raise RuntimeError("QEMU: restore stuck in %s" % st)
            time.sleep(0.0005)
        t2 = time.monotonic()
        r["restore"], r["restore_load"] = ms(t0, t2), ms(t1, t2)
        if not con.wait(r"tick \d+\r?\n", timeout):
            raise RuntimeError("QEMU: the restored guest did not go on")
    finally:
        stop(p)
    os.unlink(snap)
    return r


LABELS = [("pause", "pause (ms)"), ("resume", "resume (ms)"),
          ("save", "save: pause + snapshot to files (ms)"), ("size", "snapshot on disk (MiB allocated)"),
          ("restore", "restore: process start -> running (ms)"), ("restore_load", "restore: load request -> running (ms)"),
          ("restore_uffd", "restore Uffd: processes start -> running (ms)"),
          ("restore_uffd_load", "restore Uffd: load request -> running (ms)")]
# QEMU has no Uffd restore: these rows are compared with its one restore.
PEER = {"restore_uffd": "restore", "restore_uffd_load": "restore_load"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--qemu", required=True, help="QEMU command line without -kernel/-append/-qmp")
    ap.add_argument("--handler", help="vessel-uffd-handler: also restore through the Uffd backend")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    res = {"vessel": {k: [] for k, _ in LABELS}, "qemu": {k: [] for k, _ in LABELS}}
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        for n in range(a.rounds):
            for name, fn in (("vessel", lambda: vessel_round(a.vmm, a.guest, d, a.timeout, a.handler)),
                             ("qemu", lambda: qemu_round(a.qemu, a.guest, d, a.timeout))):
                r = fn()
                for k in r:
                    res[name][k].append(r[k])
                print("[round %d] %-6s " % (n, name) + " ".join("%s %.2f" % (k, r[k]) for k, _ in LABELS if k in r), flush=True)
    print("\n%-42s %12s %12s %10s" % ("median over %d rounds" % a.rounds, "vessel", "QEMU", "vessel/QEMU"))
    for k, label in LABELS:
        if not res["vessel"][k]:
            continue
        v, q = statistics.median(res["vessel"][k]), statistics.median(res["qemu"][PEER.get(k, k)])
        print("%-42s %12.2f %12.2f %10.3f" % (label, v, q, v / q if q else float("nan")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
