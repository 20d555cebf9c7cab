#!/usr/bin/env python3
"""virtio benchmarks: vessel-vmm vs QEMU microvm on the same test-kit guest (virtio_bench.elf),
plus the KVM ioeventfd floor (bench/vmm/kvm_floor.c). Runs are interleaved so that both VMMs see
the same machine load; medians are reported with their ratios. Every run must exit with the
status of a good run (vessel-vmm 0, QEMU's isa-debug-exit 1) and report every benchmark without
errors; otherwise the script stops with that run's output and prints no figure.

  bench_virtio.py --vmm BUILD/src/vmm/vessel-vmm --guest BUILD/tests/guests/virtio_bench.elf
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
# -accel kvm: QEMU stops rather than falling back to TCG when KVM does not work.
QEMU_MICROVM = ("qemu-system-x86_64 -accel kvm -m 128 -M microvm,x-option-roms=off,pit=off,pic=off,"
                "rtc=off,isa-serial=on -nodefaults -display none -serial stdio "
                "-device isa-debug-exit,iobase=0xf4,iosize=4 -global virtio-mmio.force-legacy=false").split()
LINE = re.compile(r"bench (\w+) ops=(\d+) bytes=(\d+) cycles=(\d+) errors=(\d+)")
# The guest's exit code 0 becomes vessel-vmm's exit status 0 and QEMU's (isa-debug-exit) 1.
GOOD_EXIT = {"vessel-vmm": 0, "qemu": 1}
TIMEOUT = 1800 if os.environ.get("VESSEL_IN_KVM_HOST") == "1" else 300


def checked(p, who):
    """The stdout of a finished VMM run; raises with its output when it did not exit as a good run."""
    if p.returncode != GOOD_EXIT[who]:
        raise RuntimeError(f"{who} exited with status {p.returncode} (a good run: {GOOD_EXIT[who]}): "
                           f"{' '.join(p.args)}\nstdout:\n{p.stdout[-2000:]}\nstderr:\n{p.stderr[-2000:]}")
    return p.stdout


def parse(out):
    res = {}
    for m in LINE.finditer(out):
        name, ops, nbytes, cycles, errors = m.group(1), *map(int, m.groups()[1:])
        if errors:
            raise RuntimeError(f"{name}: {errors} failed requests")
        res[name] = (ops, nbytes, cycles)
    if len(res) != 4:
        raise RuntimeError("guest did not report all benchmarks:\n" + out)
    return res


def run_vessel(vmm, guest, disk, args, work, poll_us=0, nice=0):
    cfg = {"boot-source": {"kernel_image_path": guest, "boot_args": args},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
           "drives": [{"drive_id": "bench", "path_on_host": disk, "is_root_device": False,
                       "is_read_only": False}],
           "vessel": {"io_nice": nice}}
    path = os.path.join(work, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([vmm, "--config-file", path, "--virtio-poll-us", str(poll_us)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    return parse(checked(p, "vessel-vmm"))


def run_qemu(guest, disk, args, iothread=False, nice=0):
    dev = "virtio-blk-device,drive=d0" + (",iothread=io1" if iothread else "")
    cmd = QEMU_MICROVM + (["-object", "iothread,id=io1"] if iothread else []) + [
        "-drive", f"id=d0,file={disk},format=raw,if=none", "-device", dev, "-kernel", guest,
        "-append", args]
    if nice:  # the whole QEMU process (its iothread included) at that nice value
        cmd = ["nice", "-n", str(nice)] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    return parse(checked(p, "qemu"))


def floor_ns(work):
    exe = os.path.join(work, "kvm_floor")
    src = os.path.join(HERE, "..", "vmm", "kvm_floor.c")
    subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
    p = subprocess.run([exe, "1", "20000", "5"], capture_output=True, text=True, timeout=TIMEOUT)
    m = re.search(r"mmio-evfd.*?median\s+([\d.]+)", p.stdout)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"kvm_floor failed (exit status {p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--notify-ops", type=int, default=20000)
    ap.add_argument("--io-ops", type=int, default=1024, help="64 KiB requests per read/write run")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--poll-us", type=int, default=50,
                    help="also run vessel-vmm with ring polling for this long (0: skip)")
    ap.add_argument("--nice", type=int, default=0,
                    help="also run vessel-vmm's device thread (polling) and QEMU (iothread) at this nice value")
    ap.add_argument("--json", help="write the medians here")
    a = ap.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("qemu-system-x86_64 is missing (apt-get install qemu-system-x86): no peer, no figures")
    work = tempfile.mkdtemp(prefix="virtio-bench-")
    try:
        subprocess.run(["cc", "-O2", "-o", f"{work}/tsc_hz", f"{HERE}/tsc_hz.c"], check=True)
        hz = float(subprocess.run([f"{work}/tsc_hz"], capture_output=True, text=True, check=True).stdout)
        disk = os.path.join(work, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(64 << 20)
        args = f"notify_ops={a.notify_ops} io_ops={a.io_ops}"
        runs = {"vessel": [], "vessel_poll": [], "vessel_poll_doorbell": [], "qemu": [], "qemu_iothread": [],
                "vessel_poll_nice": [], "qemu_iothread_nice": []}
        for rep in range(a.reps):
            print(f"round {rep + 1} of {a.reps}", file=sys.stderr, flush=True)  # progress (nested host watchdog)
            runs["vessel"].append(run_vessel(a.vmm, a.guest, disk, args, work))
            if a.poll_us:
                runs["vessel_poll"].append(run_vessel(a.vmm, a.guest, disk, args, work, a.poll_us))
                # The same, with the guest ringing on every request although the device polls.
                runs["vessel_poll_doorbell"].append(
                    run_vessel(a.vmm, a.guest, disk, args + " always_notify=1", work, a.poll_us))
            runs["qemu"].append(run_qemu(a.guest, disk, args))
            runs["qemu_iothread"].append(run_qemu(a.guest, disk, args, iothread=True))
            if a.nice:
                runs["vessel_poll_nice"].append(run_vessel(a.vmm, a.guest, disk, args, work, a.poll_us, a.nice))
                runs["qemu_iothread_nice"].append(run_qemu(a.guest, disk, args, iothread=True, nice=a.nice))
        floor = None if a.no_floor else floor_ns(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(who, name, unit):
        vals = []
        for r in runs[who]:
            ops, nbytes, cycles = r[name]
            secs = cycles / hz
            vals.append(secs / ops * 1e9 if unit == "ns" else nbytes / secs / (1 << 20))
        return statistics.median(vals) if vals else None

    rows = [("doorbell (QueueNotify exit only)", "doorbell", "ns"),
            ("notify round trip (GET_ID)", "notify", "ns"),
            ("read 64 KiB QD1", "read", "MiB/s"),
            ("write 64 KiB QD1", "write", "MiB/s")]
    nested = os.environ.get("VESSEL_IN_KVM_HOST") == "1"
    result = {"tsc_hz": hz, "reps": a.reps, "kvm_floor_mmio_evfd_ns": floor,
              "where": "nested KVM host (TCG): ratios, not hardware times" if nested else "this machine"}
    if nested:
        print("In the nested KVM host: every instruction is emulated; compare the ratios, not the times.")
    print(f"TSC {hz / 1e9:.3f} GHz, {a.reps} interleaved runs each, medians")
    print(f"vessel-vmm: ring polling off / on ({a.poll_us} us, the default); QEMU microvm: main loop / "
          "iothread (adaptive polling, 32 us)")
    print(f"{'benchmark':34} {'vessel':>14} {'vessel+poll':>14} {'qemu':>14} {'qemu+iothread':>14} "
          f"{'vessel/qemu':>11} {'poll/qemu-io':>12}")
    for label, name, unit in rows:
        v, vp = med("vessel", name, unit), med("vessel_poll", name, unit)
        q, qi = med("qemu", name, unit), med("qemu_iothread", name, unit)
        result[name] = {"unit": unit, "vessel": v, "vessel_poll": vp, "qemu": q, "qemu_iothread": qi,
                        "vessel_poll_doorbell": med("vessel_poll_doorbell", name, unit),
                        "vessel_poll_nice": med("vessel_poll_nice", name, unit),
                        "qemu_iothread_nice": med("qemu_iothread_nice", name, unit)}
        fmt = lambda x: f"{x:8.1f} {unit:5}" if x else "-"
        ratio = lambda x, y: f"{x / y:.2f}x" if x and y else "-"
        print(f"{label:34} {fmt(v):>14} {fmt(vp):>14} {fmt(q):>14} {fmt(qi):>14} {ratio(v, q):>11} "
              f"{ratio(vp, qi):>12}")
    if a.nice:
        print(f"nice {a.nice}: {'benchmark':24} {'vessel+poll':>14} {'qemu+iothread':>14} {'ratio':>7}")
        for label, name, unit in rows:
            v, q = result[name]["vessel_poll_nice"], result[name]["qemu_iothread_nice"]
            fmt = lambda x: f"{x:8.1f} {unit:5}" if x else "-"
            print(f"         {label:24} {fmt(v):>14} {fmt(q):>14} {(v / q if v and q else 0):6.2f}x")
    print("(ns: lower is better; MiB/s: higher is better)")
    v_notify, v_door = result["notify"]["vessel"], result["doorbell"]["vessel"]
    print(f"notify round trip / doorbell (same VM, ring 3): {v_notify / v_door:.2f}x")
    vp_notify = result["notify"]["vessel_poll"]
    if vp_notify:
        print(f"  with polling: {vp_notify / result['doorbell']['vessel_poll']:.2f}x")
    vpd_notify = result["notify"]["vessel_poll_doorbell"]
    if vpd_notify:
        print(f"notify round trip, polling device, guest rings every time: {vpd_notify:.0f} ns "
              f"({vpd_notify / result['doorbell']['vessel_poll_doorbell']:.2f}x that run's doorbell)")
    if floor:
        print(f"kvm_floor mmio-evfd (a ring-0 loop in a minimal VM; emulated on PVM): {floor:.0f} ns; "
              f"notify round trip / floor: {v_notify / floor:.2f}x")
        for key, label in (("vessel_poll", "with polling + NO_NOTIFY"), ("vessel_poll_doorbell", "with polling, doorbell each time"),
                           ("vessel_poll_nice", f"with polling + NO_NOTIFY, nice {a.nice}")):
            x = result["notify"][key]
            if x:
                print(f"  {label}: {x / floor:.2f}x the floor")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
