#!/usr/bin/env python3
"""virtio-blk random I/O at queue depth 1 and 8 (4 KiB and 64 KiB): vessel-vmm vs QEMU microvm on
the same test-kit guest (virtio_qd.elf, ring-3 loop polling the used ring), interleaved runs,
medians and ratios (IOPS: higher is better). Every run must exit as a good run does and report
both phases without errors (bench_virtio.checked), or the script stops with its output.

  bench_qd.py --vmm BUILD/src/vmm/vessel-vmm --guest BUILD/tests/guests/virtio_qd.elf [--reps 3]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_virtio import QEMU_MICROVM, TIMEOUT, checked  # noqa: E402

LINE = re.compile(r"qd (\w+) depth=(\d+) bs=(\d+) ops=(\d+) bytes=(\d+) cycles=(\d+) errors=(\d+)")


def parse(out):
    res = {}
    for m in LINE.finditer(out):
        phase, ops, cycles, errors = m.group(1), int(m.group(4)), int(m.group(6)), int(m.group(7))
        if errors:
            raise RuntimeError(f"{phase}: {errors} failed requests\n{out}")
        res[phase] = (ops, cycles)
    if set(res) != {"randread", "randwrite"}:
        raise RuntimeError("guest did not report both phases:\n" + out)
    return res


def run_vessel(vmm, guest, disk, args, work):
    cfg = {"boot-source": {"kernel_image_path": guest, "boot_args": args},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
           "drives": [{"drive_id": "bench", "path_on_host": disk, "format": "raw"}]}
    path = os.path.join(work, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([vmm, "--config-file", path], capture_output=True, text=True, timeout=TIMEOUT)
    return parse(checked(p, "vessel-vmm"))


def run_qemu(guest, disk, args, iothread=False):
    dev = "virtio-blk-device,drive=d0" + (",iothread=io1" if iothread else "")
    cmd = QEMU_MICROVM + (["-object", "iothread,id=io1"] if iothread else []) + [
        "-drive", f"id=d0,file={disk},format=raw,if=none", "-device", dev, "-kernel", guest, "-append", args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    return parse(checked(p, "qemu"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ops-4k", type=int, default=4000)
    ap.add_argument("--ops-64k", type=int, default=1000)
    ap.add_argument("--json", help="write the medians here")
    a = ap.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("qemu-system-x86_64 is missing (apt-get install qemu-system-x86): no peer, no figures")
    configs = [(1, 4096), (8, 4096), (1, 65536), (8, 65536)]
    who = ["vessel", "qemu", "qemu_iothread"]
    runs = {(w, c): [] for w in who for c in configs}
    work = tempfile.mkdtemp(prefix="virtio-qd-")
    try:
        subprocess.run(["cc", "-O2", "-o", f"{work}/tsc_hz", f"{HERE}/tsc_hz.c"], check=True)
        hz = float(subprocess.run([f"{work}/tsc_hz"], capture_output=True, text=True, check=True).stdout)
        disk = os.path.join(work, "disk.img")
        with open(disk, "wb") as f:  # written, so reads hit cached data rather than holes
            for _ in range(64):
                f.write(os.urandom(1 << 20))
        for rep in range(a.reps):
            print(f"round {rep + 1} of {a.reps}", file=sys.stderr, flush=True)  # progress (nested host watchdog)
            for qd, bs in configs:
                ops = a.ops_4k if bs == 4096 else a.ops_64k
                args = f"qd={qd} bs={bs} ops={ops} span_mib=32 mode=bench"
                runs[("vessel", (qd, bs))].append(run_vessel(a.vmm, a.guest, disk, args, work))
                runs[("qemu", (qd, bs))].append(run_qemu(a.guest, disk, args))
                runs[("qemu_iothread", (qd, bs))].append(run_qemu(a.guest, disk, args, True))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def iops(w, c, phase):
        vals = [ops / (cycles / hz) for r in runs[(w, c)] for ops, cycles in [r[phase]]]
        return statistics.median(vals) if vals else None

    nested = os.environ.get("VESSEL_IN_KVM_HOST") == "1"
    result = {"tsc_hz": hz, "reps": a.reps, "rows": [],
              "where": "nested KVM host (TCG): ratios, not hardware times" if nested else "this machine"}
    if nested:
        print("In the nested KVM host: every instruction is emulated; compare the ratios, not the IOPS.")
    print(f"TSC {hz / 1e9:.3f} GHz, {a.reps} interleaved runs each, medians, IOPS (higher is better)")
    print(f"{'benchmark':24} {'vessel':>10} {'qemu':>10} {'qemu+iothr':>10} {'vessel/qemu':>11} {'vessel/q+io':>11}")
    for qd, bs in configs:
        for phase in ("randread", "randwrite"):
            v, q, qi = (iops(w, (qd, bs), phase) for w in who)
            label = f"{phase} {bs // 1024}K QD{qd}"
            ratio = lambda x, y: f"{x / y:.2f}x" if x and y else "-"
            f = lambda x: f"{x:10.0f}" if x else f"{'-':>10}"
            print(f"{label:24} {f(v)} {f(q)} {f(qi)} {ratio(v, q):>11} {ratio(v, qi):>11}")
            result["rows"].append({"phase": phase, "bs": bs, "qd": qd, "vessel": v, "qemu": q, "qemu_iothread": qi})
    if a.json:
        with open(a.json, "w") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
