#!/usr/bin/env bash
# The overhead report: `vessel bench overhead` against a private vesseld, its JSON saved.
#
# Usage: bench/overhead/run.sh [--no-vm|--nested] [BUILD_DIR] [RUNS] [SCALE] [OUT.json] [GUEST_DIR]   (root)
#   --no-vm   native and container only, on this machine (no KVM needed)
#   --nested  all three in the nested KVM host (scripts/kvm-host) even where KVM works here
# Default: native, container and VM, here when this machine's KVM can run VMs, else in the nested
# KVM host (bench/lib/kvm-place.sh) with all three places inside it, so that they share one
# kernel and one CPU. Figures taken there are emulated (TCG): not hardware times; the ratios
# compare. VESSEL_BENCH_GUEST=DIR: the default guest to boot (default BUILD/guest). Then:
# bench/overhead/plot.py OUT.png LABEL=OUT.json
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
places=native,container,vm
case ${1:-} in
  --no-vm) places=native,container; shift ;;
  --nested) export VESSEL_BENCH_NESTED=1; shift ;;
esac
BUILD="$(realpath "${1:-$ROOT/build}")"
RUNS="${2:-5}"
SCALE="${3:-1}"
OUT="$(realpath -m "${4:-$HERE/results-$(date -u +%F)-$([[ $places == *vm* ]] && echo all || echo no-vm).json}")"
GUEST="$(realpath -m "${5:-${VESSEL_BENCH_GUEST:-$BUILD/guest}}")"
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for f in src/cli/vessel src/daemon/vesseld src/workload/vessel-workload; do
  [ -x "$BUILD/$f" ] || { echo "build $f in $BUILD first" >&2; exit 1; }
done
if [[ $places == *vm* ]]; then
  [ -f "$GUEST/initramfs.cpio" ] || { echo "build the default guest first (ninja -C $BUILD default_guest)" >&2; exit 1; }
  source "$ROOT/bench/lib/kvm-place.sh"
  bench_kvm_place "$BUILD" "$HERE/run.sh" "$BUILD" "$RUNS" "$SCALE" "$OUT" "$GUEST"
else
  echo "== where: this machine, no VM: $(uname -r), $(nproc) CPUs; load: $(uptime)"
fi

W="$(mktemp -d /tmp/vessel-overhead.XXXXXX)"
cleanup() {
  [ -f "$W/vesseld.pid" ] && { kill "$(cat "$W/vesseld.pid")" 2>/dev/null; wait 2>/dev/null || true; }
  rm -rf "$W"
}
trap cleanup EXIT
# The container's root: static busybox (sleep, sh) and an empty /tmp for vessel-workload.
R="$W/rootfs"
mkdir -p "$R/bin" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/tmp"
cp /bin/busybox "$R/bin/" && for a in sh sleep hostname true; do ln -s busybox "$R/bin/$a"; done
echo 'root:x:0:0:root:/:/bin/sh' > "$R/etc/passwd"
"$BUILD/src/daemon/vesseld" --socket "$W/vesseld.sock" --state-dir "$W/state" --cgroup-parent vessel-bench-overhead --default-network none \
  > "$W/vesseld.log" 2>&1 &
echo $! > "$W/vesseld.pid"
V=("$BUILD/src/cli/vessel" --socket "$W/vesseld.sock")
for _ in $(seq 100); do "${V[@]}" ls >/dev/null 2>&1 && break; sleep 0.1; done
"${V[@]}" ls >/dev/null || { tail -5 "$W/vesseld.log" >&2; exit 1; }
echo "== vessel bench overhead --in $places --runs $RUNS --scale $SCALE"
"${V[@]}" bench overhead --in "$places" --runs "$RUNS" --scale "$SCALE" --rootfs "$R" --guest "$GUEST" \
  --json > "$W/report.json" || { echo "FAILED (vesseld's log:)" >&2; tail -20 "$W/vesseld.log" >&2; exit 1; }
cp "$W/report.json" "$OUT"
python3 "$HERE/plot.py" --table "$OUT"
echo "== saved $OUT; load after: $(uptime)"
