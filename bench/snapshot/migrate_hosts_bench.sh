#!/usr/bin/env bash
# Live migration between hosts: the stream inside TLS against plain TCP, vessel (two vesselds on
# their TLS APIs) against QEMU (tls-creds-x509 against plain tcp:), interleaved round by round
# on the 256 MiB test-kit guest with 224 MiB written (migrate_hosts_bench.py says what is timed).
#
# Usage: bench/snapshot/migrate_hosts_bench.sh [--nested] [BUILD_DIR] [ROUNDS]   (default build, 3).
# Where: here when this machine's /dev/kvm can run VMs, else (or with --nested) in the nested KVM
# host, QEMU in the same host (bench/lib/kvm-place.sh). Both "hosts" are one machine: loopback.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
[[ ${1:-} == --nested ]] && { export VESSEL_BENCH_NESTED=1; shift; }
BUILD="$(realpath "${1:-$ROOT/build}")"
ROUNDS="${2:-3}"
[ -x "$BUILD/src/daemon/vesseld" ] && [ -f "$BUILD/tests/guests/snapshot_counter.elf" ] ||
  { echo "build vesseld, vessel-vmm and test_guests in $BUILD first" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86 is not installed" >&2; exit 1; }
source "$ROOT/bench/lib/kvm-place.sh"
bench_kvm_place "$BUILD" "$HERE/migrate_hosts_bench.sh" "$BUILD" "$ROUNDS"
TIMEOUT=120; [[ ${VESSEL_IN_KVM_HOST:-} == 1 ]] && TIMEOUT=600
QEMU="qemu-system-x86_64 -accel kvm -m 256 -smp 1 -no-user-config \
 -M microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on -nodefaults -display none -serial stdio"
echo "== host: $(uname -r), $(nproc) cpus, KVM $(bench_kvm_flavour), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(qemu-system-x86_64 --version | head -1); vesseld $("$BUILD/src/daemon/vesseld" --version | awk '{print $NF}')"
python3 "$HERE/migrate_hosts_bench.py" --build "$BUILD" --qemu "$QEMU" --rounds "$ROUNDS" --timeout "$TIMEOUT"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
