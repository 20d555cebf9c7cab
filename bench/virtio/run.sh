#!/usr/bin/env bash
# virtio benchmarks, vessel-vmm vs QEMU microvm (same guest, same run), plus the KVM ioeventfd
# floor. Usage: bench/virtio/run.sh [BUILD_DIR] [extra bench_virtio.py args...]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD="${1:-$HERE/../../build}"
shift || true
ninja -C "$BUILD" vessel-vmm test_guests >/dev/null || echo "warning: rebuild failed, using the binaries already in $BUILD" >&2
dpkg -s qemu-system-x86 >/dev/null 2>&1 || echo "qemu-system-x86 not installed: vessel-vmm only" >&2
exec python3 "$HERE/bench_virtio.py" --vmm "$BUILD/src/vmm/vessel-vmm" \
  --guest "$BUILD/tests/guests/virtio_bench.elf" "$@"
