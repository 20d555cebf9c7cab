#!/usr/bin/env bash
# vessel-vmm snapshots against QEMU's savevm-to-file / -incoming restore, interleaved round by
# round on the same 256 MiB test-kit guest with all of its RAM dirtied (snapshot_bench.py says
# what is timed). Prints every round, then medians and vessel/QEMU ratios.
#
# Usage: bench/snapshot/bench.sh [--nested] [BUILD_DIR] [ROUNDS]   (default build, 5 rounds). Root.
# Where: here when this machine's /dev/kvm can run VMs, else (or with --nested) in the nested KVM
# host, QEMU in the same host (bench/lib/kvm-place.sh).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
[[ ${1:-} == --nested ]] && { export VESSEL_BENCH_NESTED=1; shift; }
BUILD="$(realpath "${1:-$ROOT/build}")"
ROUNDS="${2:-5}"
VMM="$BUILD/src/vmm/vessel-vmm"
GUEST="$BUILD/tests/guests/snapshot_counter.elf"
HANDLER="$BUILD/src/vmm/vessel-uffd-handler"
[ -x "$VMM" ] && [ -x "$HANDLER" ] && [ -f "$GUEST" ] || { echo "build vessel-vmm, vessel-uffd-handler and test_guests in $BUILD first" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86 is not installed" >&2; exit 1; }
source "$ROOT/bench/lib/kvm-place.sh"
bench_kvm_place "$BUILD" "$HERE/bench.sh" "$BUILD" "$ROUNDS"
TIMEOUT=120; [[ ${VESSEL_IN_KVM_HOST:-} == 1 ]] && TIMEOUT=600

# -cpu host fails on PVM hosts (MSR 0x10a refused); QEMU's default CPU model runs the guest.
QEMU="qemu-system-x86_64 -accel kvm -m 256 -smp 1 -no-user-config \
 -M microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on -nodefaults -display none -serial stdio"
echo "== host: $(uname -r), $(nproc) cpus, KVM $(bench_kvm_flavour), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(qemu-system-x86_64 --version | head -1); vessel-vmm $("$VMM" --version | awk '{print $NF}')"
python3 "$HERE/snapshot_bench.py" --vmm "$VMM" --handler "$HANDLER" --guest "$GUEST" --qemu "$QEMU" --rounds "$ROUNDS" --timeout "$TIMEOUT"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
