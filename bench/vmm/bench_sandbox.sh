#!/usr/bin/env bash
# The boot-time cost of vessel-vmm's sandbox, interleaved in one run on the test-kit guest of
# bench.sh (tests/guests/hello.elf: PVH ELF, 128 MiB, 1 vCPU, prints and exits through 0xf4):
#   vessel-vmm --seccomp-level 0 | vessel-vmm (seccomp, the default) | vessel-jailer + vessel-vmm
#   (chroot, mount + PID namespaces, uid 4242, seccomp) | QEMU microvm
# Every run must print the guest's marker and exit with a good run's status; ratios are against
# the first configuration (plain vessel-vmm). Peak RSS of the jailed row is the jailer's own
# (rsswrap sees its child, the jailer, which waits for the VMM).
#
# Usage: bench/vmm/bench_sandbox.sh [--nested] [BUILD_DIR] [REPS]   (default build, 15 reps). Root.
# Never boots a Linux kernel. Where it runs: see bench.sh (bench/lib/kvm-place.sh).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
[[ ${1:-} == --nested ]] && { export VESSEL_BENCH_NESTED=1; shift; }
BUILD="$(realpath "${1:-$ROOT/build}")"
REPS="${2:-15}"
VMM="$BUILD/src/vmm/vessel-vmm"
JAILER="$BUILD/src/jailer/vessel-jailer"
GUEST="$BUILD/tests/guests/hello.elf"
[ -x "$VMM" ] && [ -x "$JAILER" ] && [ -f "$GUEST" ] || { echo "build vessel-vmm, vessel-jailer and test_guests in $BUILD first" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86 is not installed" >&2; exit 1; }
source "$ROOT/bench/lib/kvm-place.sh"
bench_kvm_place "$BUILD" "$HERE/bench_sandbox.sh" "$BUILD" "$REPS"
TIMEOUT=60; [[ ${VESSEL_IN_KVM_HOST:-} == 1 ]] && TIMEOUT=180

W="$(mktemp -d /var/tmp/vessel-sandbox-bench.XXXXXX)"
trap 'rm -rf "$W"' EXIT
gcc -O2 -static -o "$W/rsswrap" "$HERE/rsswrap.c"
# The jail's root holds the guest (a hard link when it can); the jailer links the VMM and its
# libraries in on every run, which is part of what is measured.
mkdir -p "$W/jails/vessel-vmm/bench/root"
ln "$GUEST" "$W/jails/vessel-vmm/bench/root/hello.elf" 2>/dev/null || cp "$GUEST" "$W/jails/vessel-vmm/bench/root/hello.elf"

MARKER="hello from the vessel test kit"
QEMU="qemu-system-x86_64 -accel kvm -m 128 -smp 1 -no-user-config -no-reboot \
 -M microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on -nodefaults -display none \
 -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel $GUEST"

echo "== host: $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== guest: $GUEST, marker: '$MARKER'"
python3 "$HERE/vmm_boot_bench.py" --rsswrap "$W/rsswrap" --reps "$REPS" --timeout "$TIMEOUT" --marker "$MARKER" \
  --config "vessel-vmm=$VMM --kernel $GUEST --mem-mib 128 --seccomp-level 0" \
  --config "vessel-vmm-seccomp=$VMM --kernel $GUEST --mem-mib 128" \
  --config "vessel-vmm-jailed=$JAILER --id bench --exec-file $VMM --uid 4242 --gid 4242 --chroot-base-dir $W/jails -- --kernel /hello.elf --mem-mib 128" \
  --config "qemu-microvm=$QEMU" --expect qemu-microvm=1
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
