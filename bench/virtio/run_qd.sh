#!/usr/bin/env bash
# virtio-blk random I/O at QD1/QD8, 4K/64K, vessel-vmm vs QEMU microvm in the same run.
# Usage: bench/virtio/run_qd.sh [--nested] [BUILD_DIR] [extra bench_qd.py args...]
# Where: as bench/virtio/run.sh (here, or in the nested KVM host: bench/lib/kvm-place.sh).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
[[ ${1:-} == --nested ]] && { export VESSEL_BENCH_NESTED=1; shift; }
BUILD="$(realpath "${1:-$HERE/../../build}")"
shift || true
if [[ ${VESSEL_IN_KVM_HOST:-} != 1 ]]; then
  ninja -C "$BUILD" vessel-vmm test_guests >/dev/null ||
    echo "warning: rebuild failed, using the binaries already in $BUILD" >&2
fi
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86 is not installed: no peer" >&2; exit 1; }
source "$HERE/../lib/kvm-place.sh"
bench_kvm_place "$BUILD" "$HERE/run_qd.sh" "$BUILD" "$@"
exec python3 "$HERE/bench_qd.py" --vmm "$BUILD/src/vmm/vessel-vmm" --guest "$BUILD/tests/guests/virtio_qd.elf" "$@"
