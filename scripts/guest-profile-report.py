#!/usr/bin/env python3
"""Maps a vessel-vmm --guest-profile file to kernel symbols and prints where the guest spent its
samples, by function, most first.

  scripts/guest-profile-report.py PROFILE [--system-map /boot/System.map-VERSION] [--top N]

The System.map defaults to the newest one in /boot (the default guest's kernel). PVH-booted
kernels are not relocated (KASLR is done by the bzImage decompressor), so System.map addresses
hold. Samples outside the kernel are reported as [user] or [unknown].

The second table counts, for each kernel function, the samples whose stack held one of its
addresses (a "guess" unwind: stale words can appear, so read it as a hint of who called the hot
code, e.g. which initcall); --callers-of FUNC restricts it to samples whose RIP is in FUNC."""
import argparse
import bisect
import glob
import sys


def load_map(path):
    addrs, names = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1] not in "tTwW":
                continue
            addrs.append(int(parts[0], 16))
            names.append(parts[2])
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile")
    ap.add_argument("--system-map", default=None)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--callers-of", default=None, help="only samples whose RIP is in this function")
    args = ap.parse_args()
    system_map = args.system_map or (sorted(glob.glob("/boot/System.map-*")) or [None])[-1]
    if system_map is None:
        sys.exit("guest-profile-report: no System.map in /boot; pass --system-map")
    addrs, names = load_map(system_map)
    def symbol(addr):
        i = bisect.bisect_right(addrs, addr) - 1
        return names[i] if i >= 0 and addr - addrs[i] < 1 << 20 else "[unknown]"

    by_symbol, on_stack, total = {}, {}, 0
    with open(args.profile) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            n, rip, _vcpu, *stack = line.split()
            n, rip = int(n), int(rip, 16)
            if args.callers_of and (rip < 0x800000000000 or symbol(rip) != args.callers_of):
                continue
            total += n
            for sym in {symbol(int(w, 16)) for w in stack}:
                on_stack[sym] = on_stack.get(sym, 0) + n
            if rip < 0x100000:
                sym = "[below 1 MiB: real mode, or a vCPU waiting for its start-up IPI]"
            elif rip < 0x800000000000:
                sym = "[user]"
            else:
                sym = symbol(rip)
            by_symbol[sym] = by_symbol.get(sym, 0) + n
    print(f"{total} samples, {system_map}")
    print("-- where the samples were (self)")
    for sym, n in sorted(by_symbol.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"{n:8d} {100.0 * n / max(total, 1):6.2f}%  {sym}")
    if on_stack:
        print("-- functions found on the sampled stacks (inclusive, a hint)")
        for sym, n in sorted(on_stack.items(), key=lambda kv: -kv[1])[:args.top]:
            print(f"{n:8d} {100.0 * n / max(total, 1):6.2f}%  {sym}")


if __name__ == "__main__":
    main()
