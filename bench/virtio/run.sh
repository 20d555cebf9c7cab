#!/usr/bin/env bash
# virtio benchmarks, vessel-vmm vs QEMU microvm (same guest, same run), plus the KVM ioeventfd
# floor. Usage: bench/virtio/run.sh [--qd] [--nested] [BUILD_DIR] [extra args...]
#   --qd   random I/O at QD1/QD8, 4K/64K (bench_qd.py; bench/virtio/run_qd.sh says this) instead
#          of the notify round trip and throughput (bench_virtio.py)
# Where: here when this machine's /dev/kvm can run VMs, else (or with --nested or
# VESSEL_BENCH_NESTED=1) inside the nested KVM host scripts/kvm-host, QEMU in the same host
# (bench/lib/kvm-place.sh); a --json file must then be under the current directory (shared).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
bench=bench_virtio.py guest=virtio_bench.elf mode=()
while [[ ${1:-} == --qd || ${1:-} == --nested ]]; do
  case $1 in
    --qd) bench=bench_qd.py guest=virtio_qd.elf mode=(--qd);;
    --nested) export VESSEL_BENCH_NESTED=1;;
  esac
  shift
done
BUILD="$(realpath "${1:-$HERE/../../build}")"
shift || true
if [[ ${VESSEL_IN_KVM_HOST:-} != 1 ]]; then
  ninja -C "$BUILD" vessel-vmm test_guests >/dev/null ||
    echo "warning: rebuild failed, using the binaries already in $BUILD" >&2
fi
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86 is not installed: no peer" >&2; exit 1; }
source "$HERE/../lib/kvm-place.sh"
bench_kvm_place "$BUILD" "$HERE/run.sh" "${mode[@]}" "$BUILD" "$@"
exec python3 "$HERE/$bench" --vmm "$BUILD/src/vmm/vessel-vmm" --guest "$BUILD/tests/guests/$guest" "$@"
