#!/usr/bin/env python3
"""The API's latency through a 3-node cluster at a fixed rate (docs/cluster.md#api-latency).

Starts a 3-member etcd (loopback addresses 127.214.X.1-3) and three clustered vesselds (each its
own socket, state and cgroup parent), runs INSTANCES clustered busybox containers, then sends
RATE requests per second (default 100) for SECONDS (default 30), open loop: request i is due at
start + i/RATE, goes to node i % 3's socket, and is alternately `GET /v1/instances` (vessel ls)
and `GET /v1/instances/NAME` (vessel inspect, of an instance that may run on another node).
Latency counts from when the request was due (a late send is the server's delay too), on a fresh
connection each time as the CLI does; the time from the actual send is printed beside it. Prints p50/p99/max per route and overall, and errors.

With --standalone, the same against three vesselds without --cluster (the instances local to
node 1; on nodes 2 and 3 `inspect` answers 404): the baseline. With --tls, the nodes reach each
other as nodes on different hosts do: each serves --listen on its own loopback address and
advertises https:// (forwarded inspects and ls's live views go over TLS, on connections the
nodes keep open), against the default Unix sockets.

Usage (root; etcd-server): bench/cluster/api_latency.py BUILD_DIR [--rate 100] [--seconds 30] [--instances 3] [--standalone | --tls]
"""
import argparse, concurrent.futures, http.client, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from vesseld import start_vesseld


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def get(sock, path):
    c = UnixConnection(sock)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def answered(status):
    """An HTTP answer below 500 (standalone inspects of another node's instance are 404s)."""
    return isinstance(status, int) and status < 500


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(-(-p * len(xs) // 100)) - 1))] if xs else 0.0


def start_etcd(tmp, host):
    members, cluster = [], ",".join(f"m{k}=http://{host}.{k}:2380" for k in (1, 2, 3))
    for k in (1, 2, 3):
        url = f"http://{host}.{k}:2379"
        log = open(f"{tmp}/etcd-{k}.log", "w")
        members.append(subprocess.Popen(
            ["etcd", "--name", f"m{k}", "--data-dir", f"{tmp}/etcd-{k}", "--listen-client-urls", url,
             "--advertise-client-urls", url, "--listen-peer-urls", f"http://{host}.{k}:2380",
             "--initial-advertise-peer-urls", f"http://{host}.{k}:2380", "--initial-cluster", cluster,
             "--initial-cluster-state", "new"], stdout=log, stderr=subprocess.STDOUT))
    urls = [f"http://{host}.{k}:2379" for k in (1, 2, 3)]
    for url in urls:
        for _ in range(300):
            try:
                if b"true" in urllib.request.urlopen(url + "/health", timeout=1).read():
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit(f"etcd at {url} not healthy in 30 s (logs in {tmp})")
    return members, ",".join(urls)


def make_rootfs(d):
    for sub in ("bin", "proc", "sys", "dev", "tmp", "etc", "root"):
        os.makedirs(f"{d}/{sub}", exist_ok=True)
    shutil.copy("/bin/busybox", f"{d}/bin/busybox")
    for a in ("sh", "sleep"):
        os.symlink("busybox", f"{d}/bin/{a}")


def measure(socks, names, rate, seconds):
    n = int(rate * seconds)
    results = []  # (route, latency s, status)

    def one(i, due):
        sock = socks[i % len(socks)]
        route, path = ("ls", "/v1/instances") if i % 2 == 0 else ("inspect", f"/v1/instances/{names[(i // 2) % len(names)]}")
        sent = time.monotonic()
        try:
            status = get(sock, path)
        except OSError as e:
            status = str(e)
        done = time.monotonic()
        results.append((route, done - due, status, done - sent))

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        start = time.monotonic() + 0.5
        for i in range(n):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i, due)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--standalone", action="store_true",
                    help="the same against three vesselds without --cluster (local instances): the baseline")
    ap.add_argument("--tls", action="store_true", help="nodes reach each other over TLS (--listen, --advertise https://)")
    a = ap.parse_args()
    if a.tls and a.standalone:
        raise SystemExit("--tls is for the clustered run")
    build = os.path.abspath(a.build)
    tmp = tempfile.mkdtemp(prefix="vessel-api-latency.")
    host = f"127.214.{os.getpid() % 250 + 1}"
    procs = []
    try:
        if not a.standalone:
            members, urls = start_etcd(tmp, host)
            procs += members
        socks = []
        for i in (1, 2, 3):
            d = f"{tmp}/node-{i}"
            os.makedirs(d)
            cluster = [] if a.standalone else ["--node", f"node-{i}", "--cluster", urls, "--lease-ttl", "3"]
            if a.tls:
                cluster += ["--listen", f"tcp://{host}.{10 + i}:8443", "--advertise", f"https://{host}.{10 + i}:8443"]
            daemon, cli = start_vesseld(build, d, f"vessel-api-bench-{os.getpid()}-{i}",
                                        extra=cluster + ["--default-network", "none"])
            procs.append(daemon)
            socks.append(cli[-1])
            if i == 1:
                first = cli
        for _ in range(200):
            if subprocess.run(first + ["ls"], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        make_rootfs(f"{tmp}/rootfs")
        names = [f"web-{k}" for k in range(1, a.instances + 1)]
        for name in names:
            r = subprocess.run(first + ["run"] + ([] if a.standalone else ["--cluster-wide"]) + ["--name", name, "--restart", "always", "--rootfs",
                                        f"{tmp}/rootfs", "--", "/bin/sh", "-c", "while :; do sleep 1; done"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"run {name}: {r.stderr}")
        time.sleep(3)  # placed and started
        load = open("/proc/loadavg").read().split()[:3]
        results = measure(socks, names, a.rate, a.seconds)
        kind = "standalone" if a.standalone else "clustered (TLS between nodes)" if a.tls else "clustered"
        print(f"API latency through 3 {kind} vesselds, {a.rate:g} requests/s for {a.seconds:g} s, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.uname().nodename}, {os.cpu_count()} CPUs, "
              f"load {' '.join(load)} before")
        for route in ("ls", "inspect", None):
            lat = [l * 1000 for r, l, s, _ in results if route in (None, r) and answered(s)]
            service = [t * 1000 for r, _, s, t in results if route in (None, r) and answered(s)]
            errors = sum(1 for r, l, s, _ in results if route in (None, r) and not answered(s))
            print(f"  {route or 'all':8} {len(lat):5} ok, {errors} errors: p50 {pct(lat, 50):.1f} ms, "
                  f"p99 {pct(lat, 99):.1f} ms, max {max(lat) if lat else 0:.1f} ms "
                  f"(from the send: p50 {pct(service, 50):.1f}, p99 {pct(service, 99):.1f} ms)")
        for name in names:
            subprocess.run(first + ["rm", "--force", name], capture_output=True)
        time.sleep(2)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for i in (1, 2, 3):
            for d in [f"/sys/fs/cgroup/{c}/vessel-api-bench-{os.getpid()}-{i}" for c in os.listdir("/sys/fs/cgroup")]:
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
