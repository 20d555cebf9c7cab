#!/usr/bin/env python3
"""virtio benchmarks: vessel-vmm vs QEMU microvm on the same test-kit guest (virtio_bench.elf),
plus the KVM ioeventfd floor (kvm_floor.c from the team's peers). Runs are interleaved so that
both VMMs see the same machine load; medians are reported with their ratios.

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
QEMU_MICROVM = ("qemu-system-x86_64 -enable-kvm -m 128 -M microvm,x-option-roms=off,pit=off,pic=off,"
                "rtc=off,isa-serial=on -nodefaults -display none -serial stdio "
                "-device isa-debug-exit,iobase=0xf4,iosize=4 -global virtio-mmio.force-legacy=false").split()
LINE = re.compile(r"bench (\w+) ops=(\d+) bytes=(\d+) cycles=(\d+) errors=(\d+)")


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
                       "is_read_only": False}]}
    path = os.path.join(work, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    env = dict(os.environ, VESSEL_VIRTIO_POLL_US=str(poll_us), VESSEL_VIRTIO_NICE=str(nice))
    p = subprocess.run([vmm, "--config-file", path], capture_output=True, text=True, timeout=300, env=env)
    return parse(p.stdout)


def run_qemu(guest, disk, args, iothread=False, nice=0):
    dev = "virtio-blk-device,drive=d0" + (",iothread=io1" if iothread else "")
    cmd = QEMU_MICROVM + (["-object", "iothread,id=io1"] if iothread else []) + [
        "-drive", f"id=d0,file={disk},format=raw,if=none", "-device", dev, "-kernel", guest,
        "-append", args]
    if nice:  # the whole QEMU process (its iothread included) at that nice value
        cmd = ["nice", "-n", str(nice)] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return parse(p.stdout)


def floor_ns(work):
    exe = os.path.join(work, "kvm_floor")
    src = "/work/shared/peers/vmm/kvm_floor.c"
    if not os.path.exists(src):
        return None
    subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
    out = subprocess.run([exe, "1", "20000", "5"], capture_output=True, text=True, timeout=600).stdout
    m = re.search(r"mmio-evfd.*?median\s+([\d.]+)", out)
    return float(m.group(1)) if m else None


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
    work = tempfile.mkdtemp(prefix="virtio-bench-")
    try:
        subprocess.run(["cc", "-O2", "-o", f"{work}/tsc_hz", f"{HERE}/tsc_hz.c"], check=True)
        hz = float(subprocess.run([f"{work}/tsc_hz"], capture_output=True, text=True).stdout)
        disk = os.path.join(work, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(64 << 20)
        args = f"notify_ops={a.notify_ops} io_ops={a.io_ops}"
        runs = {"vessel": [], "vessel_poll": [], "vessel_poll_doorbell": [], "qemu": [], "qemu_iothread": [],
                "vessel_poll_nice": [], "qemu_iothread_nice": []}
        for _ in range(a.reps):
            runs["vessel"].append(run_vessel(a.vmm, a.guest, disk, args, work))
            if a.poll_us:
                runs["vessel_poll"].append(run_vessel(a.vmm, a.guest, disk, args, work, a.poll_us))
                # The same, with the guest ringing on every request although the device polls.
                runs["vessel_poll_doorbell"].append(
                    run_vessel(a.vmm, a.guest, disk, args + " always_notify=1", work, a.poll_us))
            if shutil.which("qemu-system-x86_64"):
                runs["qemu"].append(run_qemu(a.guest, disk, args))
                runs["qemu_iothread"].append(run_qemu(a.guest, disk, args, iothread=True))
            if a.nice:
                runs["vessel_poll_nice"].append(run_vessel(a.vmm, a.guest, disk, args, work, a.poll_us, a.nice))
                if shutil.which("qemu-system-x86_64"):
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
    result = {"tsc_hz": hz, "reps": a.reps, "kvm_floor_mmio_evfd_ns": floor}
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
        print(f"kvm_floor mmio-evfd (ring-0 loop, emulated on PVM): {floor:.0f} ns; "
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
