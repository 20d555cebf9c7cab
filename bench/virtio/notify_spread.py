#!/usr/bin/env python3
"""The spread of the virtio notification round trip (GET_ID, test-kit guest virtio_bench.elf) on a
busy host: vessel-vmm (polling, the default; and with io_nice -10) and QEMU microvm (main loop,
iothread, iothread at nice -10), interleaved, every run printed sorted beside the median. A run
that does not exit as a good run does, or reports no round trip, stops the script.

  notify_spread.py --vmm BUILD/src/vmm/vessel-vmm --guest BUILD/tests/guests/virtio_bench.elf [--reps 7]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_virtio import QEMU_MICROVM, TIMEOUT, checked  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--ops", type=int, default=4000)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="notify-spread-")
    subprocess.run(["cc", "-O2", "-o", f"{work}/tsc_hz", f"{HERE}/tsc_hz.c"], check=True)
    hz = float(subprocess.run([f"{work}/tsc_hz"], capture_output=True, text=True, check=True).stdout)
    disk = os.path.join(work, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(64 << 20)
    args = f"notify_ops={a.ops} io_ops=16"
    cfg = os.path.join(work, "vm.json")

    def vessel(nice):
        with open(cfg, "w") as f:
            f.write('{"boot-source": {"kernel_image_path": "%s", "boot_args": "%s"}, '
                    '"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}, '
                    '"drives": [{"drive_id": "b", "path_on_host": "%s", "format": "raw"}], '
                    '"vessel": {"io_nice": %d}}' % (a.guest, args, disk, nice))
        return checked(subprocess.run([a.vmm, "--config-file", cfg, "--virtio-poll-us", "50"], capture_output=True,
                                      text=True, timeout=TIMEOUT), "vessel-vmm")

    def qemu(iothread, nice):
        dev = "virtio-blk-device,drive=d0" + (",iothread=io1" if iothread else "")
        cmd = (["nice", "-n", str(nice)] if nice else []) + QEMU_MICROVM + (
            ["-object", "iothread,id=io1"] if iothread else []) + [
            "-drive", f"id=d0,file={disk},format=raw,if=none", "-device", dev, "-kernel", a.guest, "-append", args]
        return checked(subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT), "qemu")

    confs = {"vessel (polling, default)": lambda: vessel(0), "vessel, io_nice -10": lambda: vessel(-10),
             "qemu microvm main loop": lambda: qemu(False, 0), "qemu microvm iothread": lambda: qemu(True, 0),
             "qemu microvm iothread, nice -10": lambda: qemu(True, -10)}
    res = {k: [] for k in confs}
    for _ in range(a.reps):
        for k, run in confs.items():
            out = run()
            m = re.search(r"bench notify ops=(\d+) bytes=\d+ cycles=(\d+) errors=(\d+)", out)
            if not m or int(m.group(3)):
                raise SystemExit(f"{k}: no error-free notify result in the guest's output:\n{out[-2000:]}")
            res[k].append(int(m.group(2)) / int(m.group(1)) / hz * 1e6)
    for k, v in res.items():
        v.sort()
        med = f"{statistics.median(v):7.1f}" if v else "      -"
        print(f"{k:32} median {med} us   runs: {' '.join(f'{x:.1f}' for x in v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
