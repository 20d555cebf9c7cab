#!/usr/bin/env bash
# virtio-blk random I/O at QD1/QD8, 4K/64K, vessel-vmm vs QEMU microvm in the same run.
# Usage: bench/virtio/run_qd.sh [BUILD_DIR] [extra bench_qd.py args...]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD="${1:-$HERE/../../build}"
shift || true
ninja -C "$BUILD" vessel-vmm test_guests >/dev/null || echo "warning: rebuild failed, using the binaries already in $BUILD" >&2
exec python3 "$HERE/bench_qd.py" --vmm "$BUILD/src/vmm/vessel-vmm" --guest "$BUILD/tests/guests/virtio_qd.elf" "$@"
