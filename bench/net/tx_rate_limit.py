#!/usr/bin/env python3
"""Rate limiter accuracy of virtio-net's tx_rate_limiter: the test-kit guest virtio_net floods tx
(mode=flood, 1500-byte frames as fast as the device takes them) through a real tap while the
interface's tx_rate_limiter allows RATE bytes/s; the host counts the frames on the tap's
interface (AF_PACKET) and prints achieved vs configured.

Bucket: size = RATE / 10 bytes, refill_time = 100 ms (Firecracker's semantics: the bucket refills
continuously, RATE bytes per second; it starts full, so the first 0.5 s are left out of the
measurement). Every exit status is checked; the tap is made for the run and always deleted.

usage (root, /dev/kvm, /dev/net/tun): bench/net/tx_rate_limit.py [--build build] [--seconds 4]
       [--rates 10,50] (MB/s, 1 MB = 10^6 bytes)
"""
import argparse
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time

ETHERTYPE = 0x88B5
TUNSETIFF, TUNSETPERSIST = 0x400454CA, 0x400454CB
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000
FRAME = 1500  # what the guest sends, without the 12-byte virtio header


def tap_persist(name, on):
    with open("/dev/net/tun", "r+b", buffering=0) as tun:
        fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
        fcntl.ioctl(tun, TUNSETPERSIST, 1 if on else 0)


def run_one(args, rate, tap):
    frames = int(rate * (args.seconds + 1.0) / FRAME)
    guest = os.path.join(args.build, "tests/guests/virtio_net.elf")
    vmm = os.path.join(args.build, "src/vmm/vessel-vmm")
    bucket = {"size": rate // 10, "refill_time": 100}
    cfg = {"boot-source": {"kernel_image_path": guest, "boot_args": f"mode=flood frames={frames}"},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
           "network-interfaces": [{"iface_id": "eth0", "host_dev_name": tap, "guest_mac": "06:00:00:00:00:99",
                                   "tx_rate_limiter": {"bandwidth": bucket}}]}
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "vm.json"), "w") as f:
            json.dump(cfg, f)
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        s.bind((tap, ETHERTYPE))
        p = subprocess.Popen([vmm, "--config-file", os.path.join(d, "vm.json"),
                              "--metrics-file", os.path.join(d, "metrics.json")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stamps = []  # (time, bytes)
        deadline = time.monotonic() + args.seconds * 4 + 30
        while len(stamps) < frames and time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], 1.0)
            if not r:
                if p.poll() is not None:
                    break
                continue
            n = len(s.recv(65536))
            stamps.append((time.monotonic(), n))
        out, err = p.communicate(timeout=60)
        s.close()
        if p.returncode != 0:
            sys.exit(f"vessel-vmm exited {p.returncode} at {rate} B/s:\n{out.decode()}\n{err.decode()}")
        with open(os.path.join(d, "metrics.json")) as f:
            m = json.load(f)
    net = next(dev for dev in m["devices"] if dev["device"] == "virtio-net")
    if net["tx"]["frames"] != frames:
        sys.exit(f"the device sent {net['tx']['frames']} frames, the guest {frames}")
    if len(stamps) != frames:
        sys.exit(f"the host saw {len(stamps)} of {frames} frames (socket drops?)")
    if any(n != FRAME for _, n in stamps):
        sys.exit("a frame of the wrong size reached the tap")
    start = stamps[0][0] + 0.5
    window = [(t, n) for t, n in stamps if t >= start]
    achieved = sum(n for _, n in window[1:]) / (window[-1][0] - window[0][0])
    return {"configured": rate, "achieved": achieved, "frames": frames, "throttled": net["tx"]["throttled"],
            "seconds": window[-1][0] - window[0][0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rates", default="10,50")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (a tap and an AF_PACKET socket)")
    tap = f"vbn{os.getpid() % 100000}"
    tap_persist(tap, True)
    try:
        subprocess.run(["ip", "link", "set", tap, "up"], check=True)
        try:
            with open(f"/proc/sys/net/ipv6/conf/{tap}/disable_ipv6", "w") as f:
                f.write("1")
        except OSError:
            pass
        results = [run_one(args, int(float(r) * 1_000_000), tap) for r in args.rates.split(",")]
    finally:
        tap_persist(tap, False)
    print(f"{'configured MB/s':>16} {'achieved MB/s':>14} {'error':>7} {'frames':>8} {'throttled':>9} {'window s':>8}")
    worst = 0.0
    for r in results:
        err = r["achieved"] / r["configured"] - 1
        note = ""
        if r["throttled"] == 0:
            note = "  limiter never engaged: the guest/device path is slower than this limit here"
        else:
            worst = max(worst, abs(err))
        print(f"{r['configured'] / 1e6:16.1f} {r['achieved'] / 1e6:14.2f} {err * 100:+6.2f}% {r['frames']:8d} "
              f"{r['throttled']:9d} {r['seconds']:8.2f}{note}")
    print(json.dumps(results))
    print(f"worst error where the limiter engaged: {worst * 100:.2f}% ({'within' if worst <= 0.05 else 'NOT within'} 5 %)")


if __name__ == "__main__":
    main()
