#!/usr/bin/env python3
"""Pull of a multi-layer image from a loopback registry: vessel vs `skopeo copy` and `podman pull`,
in the same run (docs/benchmarks/images.md).

The image: LAYERS layers (default 4) of MIB MiB (default 16) of random data each (incompressible:
the transfer, the digest checks and the writes are what is measured), built by
tests/support/make_oci_layout.py and pushed by skopeo to Debian's docker-registry on 127.0.0.1.
A second tag shares every layer but has its own config ("with layers present").

  cold:          vessel: `vessel image pull` into a store without the image's layers (image rm first)
                 skopeo: `skopeo copy docker://... oci:NEWDIR:tag`
                 podman: `podman pull` into a storage without the image (rmi first)
  layers present: the second tag, with the first tag's layers in the store / the oci dir / the storage

vessel and podman unpack the layers into their stores; skopeo only copies blobs (no unpacking).
Each round runs the three in turn, the order rotating; every command must exit 0. Prints
medians and the ratio vessel/peer.

Usage (root): bench/images/bench_pull.py BUILD_DIR [ROUNDS] [LAYERS] [MIB]
"""
import os, shutil, socket, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def sh(*args, env=None):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return r


def timed(*args, env=None):
    a = time.perf_counter()
    sh(*args, env=env)
    return time.perf_counter() - a


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    layers = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    mib = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    vessel, vesseld = f"{build}/src/cli/vessel", f"{build}/src/daemon/vesseld"
    t = tempfile.mkdtemp(prefix="vessel-bench-images-")
    procs = []
    penv = dict(os.environ, CONTAINERS_CONF=f"{t}/containers.conf", CONTAINERS_STORAGE_CONF=f"{t}/storage.conf")
    try:
        # The image: busybox, then random layers; tag "b" has the same layers and another Cmd.
        dirs = []
        os.makedirs(f"{t}/l0/bin")
        shutil.copy("/bin/busybox", f"{t}/l0/bin/busybox")
        dirs.append(f"{t}/l0")
        for i in range(1, layers):
            os.makedirs(f"{t}/l{i}")
            with open(f"{t}/l{i}/data{i}", "wb") as f:
                f.write(os.urandom(mib << 20))
            dirs.append(f"{t}/l{i}")
        layer_args = [a for d in dirs for a in ("--layer", d)]
        mk = f"{SRC}/tests/support/make_oci_layout.py"
        sh("python3", mk, f"{t}/oci", "--tag", "a", "--cmd", '["/bin/busybox","true"]', *layer_args)
        sh("python3", mk, f"{t}/oci", "--tag", "b", "--cmd", '["/bin/busybox","echo","b"]', *layer_args)
        port = free_port()
        reg = f"127.0.0.1:{port}"
        open(f"{t}/registry.yml", "w").write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                                             f"    rootdirectory: {t}/registry\nhttp:\n  addr: {reg}\n")
        procs.append(subprocess.Popen(["docker-registry", "serve", f"{t}/registry.yml"], stdout=subprocess.DEVNULL,
                                      stderr=open(f"{t}/registry.log", "w")))
        for _ in range(200):
            if subprocess.run(["curl", "-sf", f"http://{reg}/v2/"], stdout=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.05)
        for tag in ("a", "b"):
            sh("skopeo", "copy", "--dest-tls-verify=false", f"oci:{t}/oci:{tag}", f"docker://{reg}/bench:{tag}")

        open(f"{t}/storage.conf", "w").write(f'[storage]\ndriver = "overlay"\nrunroot = "{t}/prun"\ngraphroot = "{t}/pgraph"\n')
        open(f"{t}/containers.conf", "w").write(f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                                                f'events_logfile_path = "{t}/pev.log"\ntmp_dir = "{t}/ptmp"\n')
        sock = f"{t}/vessel.sock"
        procs.append(subprocess.Popen([vesseld, "--socket", sock, "--state-dir", f"{t}/state", "--log-level", "warn"],
                                      stdout=open(f"{t}/vesseld.log", "w"), stderr=subprocess.STDOUT))
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        V = [vessel, "--socket", sock]
        A, B = f"{reg}/bench:a", f"{reg}/bench:b"

        def vessel_clear():
            for ref in (A, B):
                subprocess.run([*V, "image", "rm", ref], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def podman_clear():
            subprocess.run(["podman", "rmi", "-af"], env=penv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def run_vessel():
            vessel_clear()
            cold = timed(*V, "image", "pull", "-q", A)
            warm = timed(*V, "image", "pull", "-q", B)
            return cold, warm

        def run_skopeo():
            shutil.rmtree(f"{t}/out", ignore_errors=True)
            cold = timed("skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{A}", f"oci:{t}/out:a")
            warm = timed("skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{B}", f"oci:{t}/out:b")
            return cold, warm

        def run_podman():
            podman_clear()
            cold = timed("podman", "pull", "-q", "--tls-verify=false", A, env=penv)
            warm = timed("podman", "pull", "-q", "--tls-verify=false", B, env=penv)
            return cold, warm

        tools = {"vessel": run_vessel, "skopeo copy": run_skopeo, "podman pull": run_podman}
        for fn in tools.values():  # warm-up: page cache, registry
            fn()
        res = {k: [] for k in tools}
        names = list(tools)
        for r in range(rounds):
            order = names[r % 3:] + names[:r % 3]
            for k in order:
                res[k].append(tools[k]())
        med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v)) for k, v in res.items()}
        size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(f"{t}/oci/blobs") for f in fs)
        print(f"# pull of {layers} layers ({size / 2**20:.0f} MiB of blobs) from docker-registry on loopback, {rounds} rounds, "
              f"{os.cpu_count()} CPUs; skopeo {sh('skopeo', '--version').stdout.split()[-1]}, "
              f"podman {sh('podman', '--version').stdout.split()[-1]} (overlay storage)")
        print("| case | vessel | skopeo copy | podman pull | vessel/skopeo | vessel/podman |")
        print("|---|---|---|---|---|---|")
        for i, case in enumerate(("cold", "layers present")):
            v, s, p = med["vessel"][i], med["skopeo copy"][i], med["podman pull"][i]
            print(f"| {case} | {v*1000:.0f} ms | {s*1000:.0f} ms | {p*1000:.0f} ms | {v/s:.2f} | {v/p:.2f} |")
    finally:
        subprocess.run(["podman", "system", "reset", "-f"], env=penv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in reversed(procs):
            p.terminate()
            p.wait()
        subprocess.run(["sh", "-c", f"grep -o '{t}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l"])
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()
