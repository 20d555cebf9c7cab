#!/usr/bin/env bash
# vessel-vmm against QEMU microvm on the same tiny PVH guest, interleaved in one run:
#   * start-up: process start to the guest's first console line, and to process exit
#   * peak RSS of the VMM process (rsswrap: a tiny static launcher, so the figure is exact)
#   * VMM memory overhead: RSS when the marker appears minus the guest pages touched by then
#   * the KVM floor of this host (kvm_floor's "tiny" VM: create, one vCPU, print, exit)
# Every run must print the guest's marker and exit with the status a good run has (vessel-vmm 0,
# QEMU's isa-debug-exit 1); any failure fails the script, and no figure is printed for it.
#
# Usage: bench/vmm/bench.sh [--nested] [BUILD_DIR] [REPS]   (default build, 15 reps). Needs root.
# Where: here when this machine's /dev/kvm can run VMs, else (or with --nested or
# VESSEL_BENCH_NESTED=1) inside the nested KVM host scripts/kvm-host, QEMU in the same host
# (bench/lib/kvm-place.sh). Figures taken there are ratios, not hardware times.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
[[ ${1:-} == --nested ]] && { export VESSEL_BENCH_NESTED=1; shift; }
BUILD="$(realpath "${1:-$ROOT/build}")"
REPS="${2:-15}"
VMM="$BUILD/src/vmm/vessel-vmm"
GUEST="$BUILD/tests/guests/hello.elf"
[ -x "$VMM" ] && [ -f "$GUEST" ] || { echo "build vessel-vmm and test_guests in $BUILD first" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86 is not installed" >&2; exit 1; }
source "$ROOT/bench/lib/kvm-place.sh"
bench_kvm_place "$BUILD" "$HERE/bench.sh" "$BUILD" "$REPS"
TIMEOUT=60; [[ ${VESSEL_IN_KVM_HOST:-} == 1 ]] && TIMEOUT=180

W="$(mktemp -d /tmp/vessel-vmm-bench.XXXXXX)"
trap 'rm -rf "$W"' EXIT
gcc -O2 -static -o "$W/rsswrap" "$HERE/rsswrap.c"
gcc -O2 -o "$W/kvm_floor" "$HERE/kvm_floor.c"

MARKER="hello from the vessel test kit"
# -cpu host fails on PVM hosts (MSR 0x10a refused); QEMU's default CPU model boots the guest.
# -accel kvm: QEMU fails rather than falling back to TCG when KVM does not work.
QEMU="qemu-system-x86_64 -accel kvm -m 128 -smp 1 -no-user-config -no-reboot \
 -M microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on -nodefaults -display none \
 -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel $GUEST"

echo "== host: $(uname -r), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "== guest: $GUEST ($(stat -c %s "$GUEST") bytes, PVH ELF), marker: '$MARKER'"
python3 "$HERE/vmm_boot_bench.py" --rsswrap "$W/rsswrap" --reps "$REPS" --timeout "$TIMEOUT" --marker "$MARKER" \
  --config "vessel-vmm=$VMM --kernel $GUEST --mem-mib 128" \
  --config "qemu-microvm=$QEMU" --expect qemu-microvm=1 | tee "$W/out.txt"
echo
echo "== KVM floor of this host (kvm_floor tiny: one VM, one vCPU, prints BOOTED, exits)"
python3 "$HERE/vmm_boot_bench.py" --rsswrap "$W/rsswrap" --reps "$REPS" --timeout "$TIMEOUT" --marker BOOTED \
  --config "kvm-floor=$W/kvm_floor tiny" | tee -a "$W/out.txt"

# The guest's own memory touched by then: the guest kit uses ~0.3 MiB; report RSS minus it.
echo
WHERE=here; [[ ${VESSEL_IN_KVM_HOST:-} == 1 ]] && WHERE=nested
python3 - "$W/out.txt" "$WHERE" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def med(name, what):
    block = text.split("== %s " % name)[1].split("== ")[0]
    m = re.search(r"%s.*?median\s+([\d.]+)" % re.escape(what), block)
    return float(m.group(1)) if m else None
rows = []
for name in ("vessel-vmm", "qemu-microvm", "kvm-floor"):
    rows.append((name, med(name, "to marker"), med(name, "to exit"), med(name, "peak RSS")))
print("%-14s %12s %12s %12s" % ("", "marker ms", "exit ms", "peak RSS MiB"))
for r in rows:
    print("%-14s %12s %12s %12s" % tuple([r[0]] + ["%.1f" % v if v is not None else "-" for v in r[1:]]))
v, q = rows[0], rows[1]
if None in v[1:] or None in q[1:]:
    sys.exit("a median is missing: no ratio")
where = " (nested KVM host: a ratio, not hardware times)" if sys.argv[2] == "nested" else ""
print("ratio vessel/qemu-microvm%s: start-up %.2fx, exit %.2fx, peak RSS %.2fx" % (where, v[1] / q[1], v[2] / q[2], v[3] / q[3]))
PY

# VMM memory overhead: private dirty memory of the VMM process outside the guest RAM mapping,
# sampled while the counting guest runs (shared library text is excluded: it is shared). The
# sample is taken once the guest has printed "counting to", and only counts if the VMM is still
# running then (the guest counts far longer than that).
echo
echo "== VMM private memory outside guest RAM (counter guest running, 128 MiB guest)"
python3 - "$VMM" "$BUILD/tests/guests/counter.elf" "$TIMEOUT" <<'PY'
import os, re, select, subprocess, sys, time
def private_outside_guest(pid, guest_bytes):
    size = 0; cur_private = 0
    entries = []
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
            if m:
                if size: entries.append((size, cur_private))
                size = int(m.group(2), 16) - int(m.group(1), 16); cur_private = 0
            elif line.startswith("Private_Dirty:") or line.startswith("Private_Clean:"):
                cur_private += int(line.split()[1])
    entries.append((size, cur_private))
    if not any(s == guest_bytes for s, _ in entries):
        raise SystemExit("pid %d has no mapping of the guest's RAM (%d bytes)" % (pid, guest_bytes))
    return sum(p for s, p in entries if s != guest_bytes) / 1024.0
def wait_for(p, marker, timeout):
    buf, deadline = b"", time.monotonic() + timeout
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            if marker in buf:
                return
    raise SystemExit("the guest did not print %r (exit status %s); output: %r" % (marker, p.poll(), buf[-500:]))
vmm, guest, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
cmds = {
  "vessel-vmm": [vmm, "--kernel", guest, "--cmdline", "count=100000", "--mem-mib", "128"],
  "qemu-microvm": ("qemu-system-x86_64 -accel kvm -m 128 -smp 1 -no-user-config -no-reboot "
                   "-M microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on -nodefaults "
                   "-display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -append count=100000 -kernel " + guest).split(),
}
res = {}
for name, cmd in cmds.items():
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for(p, b"counting to", timeout)
        time.sleep(0.5)
        if p.poll() is not None:
            raise SystemExit("%s exited (status %d) while the guest was still to count" % (name, p.returncode))
        res[name] = private_outside_guest(p.pid, 128 << 20)
    finally:
        p.kill(); p.wait()
    print("%-14s %6.2f MiB private (anonymous + private file pages) outside guest RAM" % (name, res[name]))
print("ratio vessel/qemu-microvm: %.2fx" % (res["vessel-vmm"] / res["qemu-microvm"]))
PY
