#!/usr/bin/env python3
"""Build of the same Dockerfile: `vessel build` vs `podman build` (buildah), in the same run
(docs/benchmarks/images.md).

The base image is busybox (one layer): made by tests/support/make_oci_layout.py and imported into
vessel's store (`vessel image import`), and the same files imported into podman's (`podman import`). The Dockerfile has ARG, ENV,
WORKDIR, a COPY of the context (FILES small files and one file of MIB MiB of random data), two RUN
steps (one writes 8 MiB, one deletes a file) and CMD: four steps that make layers (WORKDIR makes its directory).

  cold: --no-cache: every step runs and makes its layer
  warm: the same build again: every step from the cache

Both run their RUN steps in an OCI runtime (vessel-runtime; podman: runc, overlay storage,
host network like vessel's default). Each round runs the two in turn, the order alternating;
every command must exit 0. Prints medians and the ratio vessel/podman.

Usage (root): bench/images/bench_build.py BUILD_DIR [ROUNDS] [FILES] [MIB]
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from bench_pull import sh, timed  # noqa: E402  (the same strict runner: every command must exit 0)

DOCKERFILE = """ARG BASE
FROM ${BASE}
ARG LEVEL=3
ENV APP_HOME=/srv/app PATH=/bin
WORKDIR /srv/app
COPY . .
RUN busybox dd if=/dev/zero of=/srv/app/zeros bs=1M count=8 2>/dev/null && echo level $LEVEL > level.txt
RUN busybox rm -f /srv/app/small/f0
CMD ["/bin/busybox", "cat", "/srv/app/level.txt"]
"""


def make_context(t, files, mib):
    ctx = f"{t}/ctx"
    os.makedirs(f"{ctx}/small")
    for i in range(files):
        with open(f"{ctx}/small/f{i}", "w") as f:
            f.write(f"file {i}\n" * 20)
    with open(f"{ctx}/big.bin", "wb") as f:
        f.write(os.urandom(mib << 20))
    with open(f"{ctx}/Dockerfile", "w") as f:
        f.write(DOCKERFILE)
    return ctx


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    files = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    mib = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    vessel, vesseld = f"{build}/src/cli/vessel", f"{build}/src/daemon/vesseld"
    t = tempfile.mkdtemp(prefix="vessel-bench-build-")
    procs = []
    penv = dict(os.environ, CONTAINERS_CONF=f"{t}/containers.conf", CONTAINERS_STORAGE_CONF=f"{t}/storage.conf")
    try:
        os.makedirs(f"{t}/l0/bin")
        shutil.copy("/bin/busybox", f"{t}/l0/bin/busybox")
        for applet in ("sh", "cat", "echo"):
            os.symlink("busybox", f"{t}/l0/bin/{applet}")
        sh("python3", f"{SRC}/tests/support/make_oci_layout.py", f"{t}/oci", "--tag", "base", "--layer", f"{t}/l0",
           "--cmd", '["/bin/sh"]')
        sh("skopeo", "copy", f"oci:{t}/oci:base", f"docker-archive:{t}/base.tar:bench-base:1")
        ctx = make_context(t, files, mib)
        open(f"{t}/storage.conf", "w").write(f'[storage]\ndriver = "overlay"\nrunroot = "{t}/prun"\ngraphroot = "{t}/pgraph"\n')
        open(f"{t}/containers.conf", "w").write(f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                                                f'events_logfile_path = "{t}/pev.log"\ntmp_dir = "{t}/ptmp"\nruntime = "runc"\n')
        # podman's base from the same files by `podman import` (buildah wants a history entry per layer,
        # which make_oci_layout.py does not write).
        sh("tar", "-C", f"{t}/l0", "-cf", f"{t}/l0.tar", ".")
        podman_base = "localhost/bench-base:1"
        sh("podman", "import", "-q", f"{t}/l0.tar", podman_base, env=penv)
        sock = f"{t}/vessel.sock"
        procs.append(subprocess.Popen([vesseld, "--socket", sock, "--state-dir", f"{t}/state", "--log-level", "warn"],
                                      stdout=open(f"{t}/vesseld.log", "w"), stderr=subprocess.STDOUT))
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        V = [vessel, "--socket", sock]
        sh(*V, "image", "import", "-q", f"{t}/base.tar", "--name", "bench-base")

        def run_vessel():
            base = ["build", "-q", "-t", "bench-app", "--build-arg", "BASE=bench-base", ctx]
            cold = timed(*V, base[0], "--no-cache", *base[1:])
            warm = timed(*V, *base)
            out = sh(*V, "run", "-a", "--rm", "bench-app").stdout
            if "level 3" not in out:
                raise SystemExit(f"vessel's image printed {out!r}")
            return cold, warm

        def run_podman():
            base = ["build", "-q", "-t", "bench-app", "--network", "host", "--ulimit", "nofile=1024:1024",
                    "--ulimit", "nproc=1024:1024", "--build-arg", f"BASE={podman_base}", ctx]
            cold = timed("podman", base[0], "--no-cache", *base[1:], env=penv)
            warm = timed("podman", *base, env=penv)
            return cold, warm

        tools = {"vessel build": run_vessel, "podman build": run_podman}
        for fn in tools.values():  # warm-up: page cache, both stores hold the base
            fn()
        res = {k: [] for k in tools}
        names = list(tools)
        for r in range(rounds):
            order = names if r % 2 == 0 else names[::-1]
            for k in order:
                res[k].append(tools[k]())
        med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v)) for k, v in res.items()}
        print(f"# build with 4 steps that make layers (WORKDIR, COPY of {files} small files + {mib} MiB, RUN writing 8 MiB, RUN deleting), {rounds} rounds, "
              f"{os.cpu_count()} CPUs; podman {sh('podman', '--version').stdout.split()[-1]} (overlay storage, runc)")
        print("| case | vessel build | podman build | vessel/podman |")
        print("|---|---|---|---|")
        for i, case in enumerate(("cold (--no-cache)", "warm (all cached)")):
            v, p = med["vessel build"][i], med["podman build"][i]
            print(f"| {case} | {v*1000:.0f} ms | {p*1000:.0f} ms | {v/p:.2f} |")
    finally:
        subprocess.run(["podman", "system", "reset", "-f"], env=penv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in reversed(procs):
            p.terminate()
            p.wait()
        subprocess.run(["sh", "-c", f"grep -o '{t}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l"])
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()
