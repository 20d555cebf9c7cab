#!/usr/bin/env bash
# virtio-blk random I/O at QD1/QD8, 4K/64K, vessel-vmm vs QEMU microvm in the same run.
# Usage: bench/virtio/run_qd.sh [--nested] [BUILD_DIR] [extra bench_qd.py args...]
# Where: as bench/virtio/run.sh (here, or in the nested KVM host: bench/lib/kvm-place.sh).
exec "$(dirname "$0")/run.sh" --qd "$@"
