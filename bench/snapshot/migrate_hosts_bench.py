#!/usr/bin/env python3
"""Live migration between hosts: the stream inside TLS against plain TCP, vessel against QEMU.

The guest: the test kit's snapshot_counter.elf, 256 MiB of RAM, "fill" (224 MiB of data written
at boot), then counting. Interleaved round by round, four ways:
  vessel tls  two vesselds on their TLS APIs (--listen 127.0.0.1, each trusting the other's
              certificate): `vessel migrate m --to https://... --to-fingerprint FP` (the default
              stream: vessel-vmm -> vesseld -> TLS -> vesseld -> vessel-vmm)
  vessel tcp  the same with --stream tcp (vessel-vmm to vessel-vmm, with the one-time token)
  QEMU tls    -incoming defer on 127.0.0.1; both sides tls-creds-x509 (a CA made here, the
              destination verifying the source's certificate, as vesseld does); tls-hostname
  QEMU tcp    the same without tls-creds
vessel's VM goes back and forth between the two vesselds (A->B, then B->A in the next round of
that kind); QEMU's pair is started afresh each round. Timed, as each VMM reports it: total time
and downtime (vessel: its report's total_ms and downtime_ms; QEMU: query-migrate's total-time
and downtime); vessel's figure through vesseld (daemon_total_ms: prepare, stream, commit) is
printed too. Checked, not timed: every command's exit status; the guest prints a new tick on the
destination, which runs it (vessel: `inspect` running; QEMU: query-status running).
"""
import argparse
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from migrate_bench import wait_qemu_migration  # noqa: E402
from snapshot_bench import QMP, Console, stop  # noqa: E402
from vesseld import start_vesseld  # noqa: E402

GUEST_ARGS = "ticks=100000000 fill"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd[:4]), r.returncode, r.stderr.strip()[-800:]))
    return r.stdout


def make_x509(d):
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate, in QEMU's layout."""
    def ssl(*a):
        run(["openssl", *a])
    srv, cli = os.path.join(d, "server"), os.path.join(d, "client")
    os.makedirs(srv)
    os.makedirs(cli)
    ca_key, ca = os.path.join(d, "ca-key.pem"), os.path.join(d, "ca-cert.pem")
    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
        "/CN=bench-ca", "-keyout", ca_key, "-out", ca, "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for who, usage, out in (("server", "serverAuth", srv), ("client", "clientAuth", cli)):
        key, csr, ext = os.path.join(out, who + "-key.pem"), os.path.join(d, who + ".csr"), os.path.join(d, who + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=%s\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n" % usage)
        ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
            "-keyout", key, "-out", csr)
        ssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
            "-extfile", ext, "-out", os.path.join(out, who + "-cert.pem"))
        with open(ca) as src, open(os.path.join(out, "ca-cert.pem"), "w") as dst:
            dst.write(src.read())
    return srv, cli


class Vesseld:
    def __init__(self, build, tmp, name, uid_base):
        self.tmp = os.path.join(tmp, name)
        os.makedirs(self.tmp)
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        extra = ["--vmm", os.path.join(build, "src/vmm/vessel-vmm"), "--listen", "tcp://127.0.0.1:%d" % self.port,
                 "--allowed-host-path", os.path.join(build, "tests/guests"), "--jailer-uid-base", str(uid_base)]
        self.proc, self.cli = start_vesseld(build, self.tmp, "vessel-bench-" + name, extra=extra)
        for _ in range(200):
            if os.path.exists(self.cert()):
                break
            time.sleep(0.05)

    def cert(self):
        return os.path.join(self.tmp, "state/tls/server.crt")

    def fingerprint(self):
        with open(os.path.join(self.tmp, "state/tls/server.fingerprint")) as f:
            return f.read().split()[0]

    def vessel(self, *args):
        return run(self.cli + list(args))

    def wait_tick(self, name, timeout, after=0):
        """Waits for a "tick N" line past the first `after` lines of its log; returns the log's line count."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.vessel("logs", name).splitlines()
            if any(l.strip().startswith("tick ") for l in lines[after:]):
                return len(lines)
            time.sleep(0.2)
        raise RuntimeError("%s: no tick in %d s" % (name, timeout))


def vessel_round(src, dst, stream, timeout):
    out = src.vessel("migrate", "m", "--to", dst.url, "--to-fingerprint", dst.fingerprint(), "--stream", stream, "--json")
    r = json.loads(out)
    if r.get("stream") != stream:
        raise RuntimeError("vessel: the migration took the %s stream, not %s" % (r.get("stream"), stream))
    if json.loads(dst.vessel("inspect", "m"))["state"] != "running":
        raise RuntimeError("vessel: the destination does not run it")
    dst.wait_tick("m", timeout)
    return {"total": r["total_ms"], "downtime": r["downtime_ms"], "through_vesseld": r["daemon_total_ms"],
            "mib": r["bytes"] / 2**20}


def qemu_round(qemu, guest, d, tls, timeout):
    base = shlex.split(qemu) + ["-kernel", guest, "-append", GUEST_ARGS]
    q1, q2 = os.path.join(d, "q1.sock"), os.path.join(d, "q2.sock")
    srv, cli = os.path.join(d, "x509/server"), os.path.join(d, "x509/client")
    dst_extra = ["-object", "tls-creds-x509,id=tls0,dir=%s,endpoint=server,verify-peer=on" % srv] if tls else []
    src_extra = ["-object", "tls-creds-x509,id=tls0,dir=%s,endpoint=client" % cli] if tls else []
    dst = subprocess.Popen(base + dst_extra + ["-qmp", "unix:%s,server=on,wait=off" % q2, "-incoming", "defer"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src = subprocess.Popen(base + src_extra + ["-qmp", "unix:%s,server=on,wait=off" % q1],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        dcon, scon = Console(dst), Console(src)
        if not scon.wait(r"tick 1\r?\n", timeout):
            raise RuntimeError("QEMU: the guest did not reach tick 1")
        qs, qd = QMP(q1), QMP(q2)
        uri = "tcp:127.0.0.1:%d" % free_port()
        if tls:
            qd.cmd("migrate-set-parameters", **{"tls-creds": "tls0"})
        qd.cmd("migrate-incoming", uri=uri)
        params = {"downtime-limit": 50, "max-bandwidth": 10 << 30}
        if tls:
            params.update({"tls-creds": "tls0", "tls-hostname": "localhost"})
        qs.cmd("migrate-set-parameters", **params)
        qs.cmd("migrate", uri=uri)
        info = wait_qemu_migration(qs, timeout)
        dcon.mark()
        if not dcon.wait(r"tick \d+\r?\n", timeout):
            raise RuntimeError("QEMU: the migrated guest did not go on")
        if qd.cmd("query-status")["status"] != "running":
            raise RuntimeError("QEMU: the receiver is not running")
        ram = info.get("ram", {})
        return {"total": float(info["total-time"]), "downtime": float(info["downtime"]),
                "through_vesseld": float("nan"), "mib": float(ram.get("transferred", 0)) / 2**20}
    finally:
        stop(src)
        stop(dst)


KEYS = [("total", "total time (ms)"), ("downtime", "downtime (ms)"), ("through_vesseld", "through vesseld (ms)"),
        ("mib", "MiB sent")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--qemu", required=True, help="QEMU command line without -kernel/-append/-qmp/-incoming")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()
    guest = os.path.join(a.build, "tests/guests/snapshot_counter.elf")
    ways = ["vessel tls", "vessel tcp", "QEMU tls", "QEMU tcp"]
    res = {w: {k: [] for k, _ in KEYS} for w in ways}
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        make_x509(os.path.join(d, "x509"))
        a_host, b_host = Vesseld(a.build, d, "a", 970000), Vesseld(a.build, d, "b", 980000)
        try:
            for host, other in ((a_host, b_host), (b_host, a_host)):
                host.vessel("trust", "add", other.cert(), "--name", "peer", "--role", "operator")
            a_host.vessel("run", "--vm", "--name", "m", "--kernel", guest, "--cmdline", GUEST_ARGS, "--memory", "256M",
                          "--stop-timeout", "0")
            a_host.wait_tick("m", a.timeout)
            where = [a_host, b_host]  # where m runs, and the other
            for n in range(a.rounds):
                for way in ways:
                    if way.startswith("vessel"):
                        r = vessel_round(where[0], where[1], way.split()[1], a.timeout)
                        where.reverse()
                    else:
                        r = qemu_round(a.qemu, guest, d, way.endswith("tls"), a.timeout)
                    for k in r:
                        res[way][k].append(r[k])
                    print("[round %d] %-10s " % (n, way) + " ".join("%s %.1f" % (k, r[k]) for k, _ in KEYS), flush=True)
        finally:
            for h in (a_host, b_host):
                subprocess.run(h.cli + ["rm", "--force", "m"], capture_output=True)
                stop(h.proc)
    med = {w: {k: statistics.median(res[w][k]) for k, _ in KEYS} for w in ways}
    print("\n%-28s" % ("256 MiB, 224 filled, median of %d" % a.rounds) + "".join("%12s" % w for w in ways) +
          "%14s%14s" % ("vessel/QEMU", "vessel/QEMU"))
    print("%-28s" % "" + " " * 48 + "%14s%14s" % ("tls", "tcp"))
    for k, label in KEYS:
        row = "%-28s" % label + "".join("%12.1f" % med[w][k] for w in ways)
        row += "%14.3f%14.3f" % (med["vessel tls"][k] / med["QEMU tls"][k], med["vessel tcp"][k] / med["QEMU tcp"][k])
        print(row)
    for name in ("vessel", "QEMU"):
        print("%s: tls/tcp total %.3f, downtime %.3f" % (name, med[name + " tls"]["total"] / med[name + " tcp"]["total"],
                                                       med[name + " tls"]["downtime"] / med[name + " tcp"]["downtime"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
