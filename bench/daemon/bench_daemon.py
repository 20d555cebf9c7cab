#!/usr/bin/env python3
"""vesseld vs podman, in the same run on the same image (docs/benchmarks/daemon.md).

For N containers (default 100), sequentially and 10 at a time:
  vessel: `vessel run --name X IMAGE -- /bin/sleep 1000`, `vessel stop -t 0 X`, `vessel rm X`
  podman: `podman run -d --name X IMAGE /bin/sleep 1000`, `podman stop -t 0 X`, `podman rm X`
and reports p50/p99 of `run` (create+start) and of the whole create+start+stop+delete cycle,
with the ratio vessel/podman. Also vesseld's RSS idle and with N running containers.

Usage (root): bench/daemon/bench_daemon.py BUILD_DIR [N]
Runs in a private mount namespace without /sys/fs/cgroup/unified (crun, podman's runtime,
refuses a hybrid cgroup layout with controllers on the cgroup2 mount). Every command must exit 0:
a failing one stops the benchmark with its error.
"""
import concurrent.futures, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from vesseld import start_vesseld

def sh(*args, env=None, check=True):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return r

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

def main():
    if os.environ.get("_VESSEL_BENCH_NS") is None and os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers") \
            and open("/sys/fs/cgroup/unified/cgroup.controllers").read().strip():
        os.environ["_VESSEL_BENCH_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", "sh", "-c",
                              'umount /sys/fs/cgroup/unified && exec "$0" "$@"', sys.executable] + sys.argv)
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    vessel = f"{build}/src/cli/vessel"
    runtime = os.environ.get("VESSEL_BENCH_RUNTIME", f"{build}/src/runtime/vessel-runtime")
    t = tempfile.mkdtemp(prefix="vessel-bench-")
    daemon = None
    try:
        # busybox rootfs -> podman import -> podman save: the same image for both.
        root = f"{t}/rootfs"
        for d in ("bin", "proc", "sys", "dev", "tmp", "etc"):
            os.makedirs(f"{root}/{d}")
        shutil.copy("/bin/busybox", f"{root}/bin/busybox")
        for a in ("sh", "true", "sleep", "echo"):
            os.symlink("busybox", f"{root}/bin/{a}")
        open(f"{root}/etc/passwd", "w").write("root:x:0:0:root:/:/bin/sh\n")
        sh("tar", "-C", root, "-cf", f"{t}/rootfs.tar", ".")
        nofile = int(subprocess.run(["bash", "-c", "ulimit -Hn"], stdout=subprocess.PIPE, text=True).stdout)
        nproc_text = subprocess.run(["bash", "-c", "ulimit -Hu"], stdout=subprocess.PIPE, text=True).stdout.strip()
        nproc = min(32768, int(nproc_text)) if nproc_text.isdigit() else 32768
        open(f"{t}/storage.conf", "w").write(f'[storage]\ndriver = "overlay"\nrunroot = "{t}/prun"\ngraphroot = "{t}/pgraph"\n')
        open(f"{t}/containers.conf", "w").write(
            f'[containers]\nnetns = "none"\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "{t}/pev.log"\ntmp_dir = "{t}/ptmp"\n')
        penv = dict(os.environ, CONTAINERS_CONF=f"{t}/containers.conf", CONTAINERS_STORAGE_CONF=f"{t}/storage.conf")
        sh("podman", "import", f"{t}/rootfs.tar", "localhost/bb:latest", env=penv)
        sh("podman", "save", "-o", f"{t}/bb.tar", "localhost/bb:latest", env=penv)

        daemon, V = start_vesseld(build, t, "vessel-bench", runtime)
        sh(*V, "image", "import", "-q", f"{t}/bb.tar", "--name", "bb")
        rss_idle = rss_kib(daemon.pid)

        def cycle(kind, name):
            ts = {}
            a = time.perf_counter()
            if kind == "vessel":
                sh(*V, "run", "--name", name, "--memory", "64", "--cpu-reservation", "0.01", "bb", "--", "/bin/sleep", "1000")
            else:
                sh("podman", "run", "-d", "--name", name, "localhost/bb", "/bin/sleep", "1000", env=penv)
            b = time.perf_counter()
            if kind == "vessel":
                sh(*V, "stop", "-t", "0", name)
                sh(*V, "rm", name)
            else:
                sh("podman", "stop", "-t", "0", name, env=penv)
                sh("podman", "rm", name, env=penv)
            c = time.perf_counter()
            return (b - a) * 1000, (c - a) * 1000

        results = {}
        for mode, par in (("sequential", 1), ("10 at a time", 10)):
            for kind in ("vessel", "podman"):
                # warm-up
                cycle(kind, f"warm-{kind}-{par}")
            runs = {"vessel": [], "podman": []}
            # Interleave the two clients in rounds so both see the same machine noise.
            for rnd in range(0, n, par):
                for kind in ("vessel", "podman") if (rnd // par) % 2 == 0 else ("podman", "vessel"):
                    names = [f"{kind[0]}{par}-{i}" for i in range(rnd, min(n, rnd + par))]
                    with concurrent.futures.ThreadPoolExecutor(par) as ex:
                        runs[kind] += list(ex.map(lambda nm: cycle(kind, nm), names))
            results[mode] = runs

        # RSS with N running containers
        for i in range(n):
            sh(*V, "run", "--name", f"r{i}", "--memory", "16", "--cpu-reservation", "0.01", "bb", "--", "/bin/sleep", "1000")
        rss_full = rss_kib(daemon.pid)
        for i in range(n):
            sh(*V, "rm", "-f", f"r{i}")

        print(f"# vesseld vs podman {sh('podman', '--version').stdout.split()[-1]}, N={n}, runtime {os.path.basename(runtime)} "
              f"(podman: its default runtime, overlay storage), {os.cpu_count()} CPUs")
        print("| mode | metric | vessel p50 | vessel p99 | podman p50 | podman p99 | ratio p50 (vessel/podman) |")
        print("|---|---|---|---|---|---|---|")
        for mode, runs in results.items():
            for idx, metric in ((0, "run (create+start)"), (1, "create+start+stop+delete")):
                v = [r[idx] for r in runs["vessel"]]
                p = [r[idx] for r in runs["podman"]]
                print(f"| {mode} | {metric} | {pct(v,50):.1f} ms | {pct(v,99):.1f} ms | {pct(p,50):.1f} ms | {pct(p,99):.1f} ms | "
                      f"{pct(v,50)/pct(p,50):.2f} |")
        print(f"\nvesseld RSS: idle {rss_idle/1024:.1f} MiB, with {n} running containers {rss_full/1024:.1f} MiB")
        json.dump({"results": results, "rss_idle_kib": rss_idle, "rss_full_kib": rss_full}, open(f"/tmp/bench-daemon-{os.getpid()}.json", "w"))
    finally:
        if daemon:
            subprocess.run([vessel, "--socket", f"{t}/vessel.sock", "ls", "--json"], stdout=subprocess.PIPE)
            daemon.terminate()
            daemon.wait()
        subprocess.run(["podman", "rm", "-af", "-t", "0"], env=penv if 'penv' in dir() else None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["podman", "system", "reset", "-f"], env=penv if 'penv' in dir() else None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["sh", "-c", f"grep -o '{t}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l"])
        shutil.rmtree(t, ignore_errors=True)

if __name__ == "__main__":
    main()
