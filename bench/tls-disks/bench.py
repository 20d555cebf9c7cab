#!/usr/bin/env python3
"""vesseld over TLS vs its Unix socket, and VM disk overlays vs qemu-img, in one run.

Usage: bench/tls-disks/bench.py [BUILD_DIR] [N]   (root; BUILD_DIR default build)
Prints each figure beside its peer and the ratio (ours / peer). Every command and request must
succeed (exit 0, HTTP 200): a failing one stops the benchmark with its error. No VM is started.
  1. API round trip GET /v1/instances, one connection per request (as the CLI does): TLS with a
     client certificate vs the Unix socket; and `vessel ls` end to end both ways.
  2. Per-instance overlay: `vessel create --vm` of an image with a disk (API + SQLite + qcow2
     overlay on the base) vs `qemu-img create -f qcow2 -b BASE -F raw` alone.
  3. Base import: `vessel image import --vm --disk` (sparse copy into the store) vs `qemu-img convert`.
"""
import http.client, os, shutil, socket, ssl, statistics, subprocess, sys, tempfile, time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
vesseld, vessel = f"{build}/src/daemon/vesseld", f"{build}/src/cli/vessel"
kernel = f"{build}/tests/guests/virtio_blk.elf"
tmp = tempfile.mkdtemp(prefix="vessel-bench-tls-")
sock, state, port = f"{tmp}/v.sock", f"{tmp}/state", 20000 + os.getpid() % 20000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def report(what, ours, peer, unit="ms"):
    o50, p50 = statistics.median(ours), statistics.median(peer)
    print(f"{what:58s} ours p50 {o50:8.3f} p99 {pct(ours, 99):8.3f} {unit} | peer p50 {p50:8.3f} "
          f"p99 {pct(peer, 99):8.3f} {unit} | ratio {o50 / p50:5.2f}")


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


class UnixHTTP(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sock)


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


d = subprocess.Popen([vesseld, "--socket", sock, "--state-dir", state, "--cgroup-parent", "vessel-bench",
                      "--listen", f"tcp://127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(200):
        if os.path.exists(sock) and os.path.exists(f"{state}/tls/server.fingerprint"):
            break
        time.sleep(0.05)
    time.sleep(0.2)
    fp = open(f"{state}/tls/server.fingerprint").read().strip()
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=bench", "-keyout", f"{tmp}/c.key", "-out", f"{tmp}/c.crt")
    run(vessel, "--socket", sock, "trust", "add", f"{tmp}/c.crt")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the CLI pins the key; here: raw cost
    ctx.load_cert_chain(f"{tmp}/c.crt", f"{tmp}/c.key")

    def get_unix():
        c = UnixHTTP("localhost")
        c.request("GET", "/v1/instances")
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"GET /v1/instances over the Unix socket: HTTP {r.status}")
        c.close()

    def get_tls():
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
        c.request("GET", "/v1/instances")
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"GET /v1/instances over TLS: HTTP {r.status}")
        c.close()

    print(f"# {N} requests each; machine: {os.cpu_count()} CPUs; ours first, peer second")
    for f in (get_unix, get_tls):
        timed(f, 20)
    report("GET /v1/instances: TLS+client cert (ours) vs Unix socket", timed(get_tls, N), timed(get_unix, N))
    remote = [vessel, "--remote", f"https://127.0.0.1:{port}", "--client-cert", f"{tmp}/c.crt", "--client-key",
              f"{tmp}/c.key", "--server-fingerprint", fp, "ls"]
    report("vessel ls: --remote TLS (ours) vs --socket", timed(lambda: run(*remote), N // 4),
           timed(lambda: run(vessel, "--socket", sock, "ls"), N // 4))

    # A 256 MiB raw base with 32 MiB of data spread over it.
    base = f"{tmp}/base.raw"
    with open(base, "wb") as f:
        f.truncate(256 << 20)
        for i in range(32):
            f.seek(i * (8 << 20))
            f.write(os.urandom(1 << 20))
    imp = []
    for i in range(5):
        t = time.perf_counter()
        run(vessel, "--socket", sock, "image", "import", "--vm", "--name", f"img{i}", "--kernel", kernel,
            "--disk", f"path={base},format=raw")
        imp.append((time.perf_counter() - t) * 1000)
    conv = []
    for i in range(5):
        t = time.perf_counter()
        run("qemu-img", "convert", "-f", "raw", "-O", "raw", "-t", "writeback", base, f"{tmp}/conv{i}.raw")
        conv.append((time.perf_counter() - t) * 1000)
    report("base import 256 MiB (32 MiB data): vessel image import vs qemu-img convert", imp, conv)

    stored = f"{state}/images/disks/img0/disk0.raw"
    n = N // 4
    ours = []
    for i in range(n):
        t = time.perf_counter()
        run(vessel, "--socket", sock, "create", "--vm", "--name", f"vm{i}", "--cpu-reservation", "0.01", "-m", "16", "img0")
        ours.append((time.perf_counter() - t) * 1000)
    peer = timed(lambda: run("qemu-img", "create", "-q", "-f", "qcow2", "-b", stored, "-F", "raw", f"{tmp}/o.qcow2"), n)
    report("VM instance with overlay: vessel create --vm vs qemu-img create -b", ours, peer)
    for i in range(n):
        run(vessel, "--socket", sock, "rm", f"vm{i}")
finally:
    d.terminate()
    d.wait()
    shutil.rmtree(tmp, ignore_errors=True)
