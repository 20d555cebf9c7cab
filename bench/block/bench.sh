#!/bin/bash
# Side-by-side benchmark of vessel-img and qemu-img on the same files, in the same run:
#   convert of a 2 GiB image (qcow2->raw, raw->qcow2, raw->qcow2 -c with zlib and zstd), and
#   4 KiB strided ("random") read/write IOPS plus 1 MiB sequential throughput through the block
#   layer (vessel-img bench vs qemu-img bench, same access pattern, same image).
# Each case runs ROUNDS times per tool and keeps the best time. Ratio = qemu time / vessel time
# (above 1.0: vessel is faster). Every run must exit 0, each tool's converted image must compare
# equal to the source (qemu-img compare) and the written qcow2 must pass qemu-img check: a failing
# run stops the script with its error, it is never reported as a time.
# No VM is involved (vessel-img and qemu-img only), so this runs on any machine, KVM or not.
#
# Usage: bench/block/bench.sh [VESSEL_IMG] ; env: ROUNDS (2), SIZE_MB (2048), DEPTH (4), BENCH_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VESSEL_IMG=${1:-$here/../../build/src/img/vessel-img}
ROUNDS=${ROUNDS:-2}
SIZE_MB=${SIZE_MB:-2048}
DIR=${BENCH_DIR:-/var/tmp/vessel-bench-block}
[ -x "$VESSEL_IMG" ] || { echo "vessel-img not found at $VESSEL_IMG (pass its path)" >&2; exit 1; }
VESSEL_IMG=$(realpath "$VESSEL_IMG")
command -v qemu-img >/dev/null || { echo "qemu-img is missing (apt-get install qemu-utils)" >&2; exit 1; }
rm -rf "$DIR"; mkdir -p "$DIR"; cd "$DIR"
trap 'rm -rf "$DIR"' EXIT

# Source: per 64 MiB segment, 32 MiB random, 16 MiB compressible text, 16 MiB hole.
truncate -s ${SIZE_MB}M src.raw
(yes "vessel block benchmark: a line of compressible text for convert -c" || true) | head -c 16M > text.bin
for ((seg = 0; seg < SIZE_MB / 64; seg++)); do
  dd if=/dev/urandom of=src.raw bs=1M count=32 seek=$((seg * 64)) conv=notrunc status=none
  dd if=text.bin of=src.raw bs=1M count=16 seek=$((seg * 64 + 32)) conv=notrunc status=none
done
qemu-img convert -O qcow2 src.raw src.qcow2

now() { date +%s.%N; }
best() {  # best <command...>: prints the best wall time of ROUNDS runs; a failing run fails it
  local b="" r t0 t1 rc
  for ((r = 0; r < ROUNDS; r++)); do
    rc=0
    t0=$(now); "$@" >"$DIR/run.out" 2>&1 || rc=$?; t1=$(now)
    if ((rc != 0)); then
      { echo "FAILED (exit status $rc): $*"; tail -n 20 "$DIR/run.out"; } >&2
      return 1
    fi
    b=$(python3 -c "t=$t1-$t0; b='$b'; print(t if b=='' or t<float(b) else b)")
  done
  echo "$b"
}
same() {  # same <source> <output>: the output image holds the source's data
  qemu-img compare -q "$1" "$2" || { echo "FAILED: $2 differs from $1 (qemu-img compare)" >&2; exit 1; }
}
row() {  # row <name> <qemu seconds> <vessel seconds> [unit-work for rates]
  python3 - "$@" <<'PY'
import sys
name, q, v = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print(f"| {name} | {q:.3f} s | {v:.3f} s | {q / v:.2f}x |")
PY
}

echo "| case | qemu-img | vessel-img | ratio (qemu/vessel) |"
echo "|---|---|---|---|"
conv() {  # conv <name> <args...> (args after 'convert', output last)
  local name=$1; shift
  local q v
  local src=${*: -1}
  q=$(best qemu-img convert "$@" out.q) || exit 1
  same "$src" out.q; rm -f out.q
  v=$(best "$VESSEL_IMG" convert "$@" out.v) || exit 1
  same "$src" out.v; rm -f out.v
  row "$name" "$q" "$v"
}
conv "convert qcow2->raw (${SIZE_MB} MiB)" -f qcow2 -O raw src.qcow2
conv "convert raw->qcow2" -f raw -O qcow2 src.raw
conv "convert raw->qcow2 -c (zlib)" -f raw -O qcow2 -c src.raw
conv "convert raw->qcow2 -c (zstd)" -f raw -O qcow2 -c -o compression_type=zstd src.raw

# Block layer: a fully allocated 1 GiB qcow2 and raw.
qemu-img create -q -f qcow2 io.qcow2 1G
qemu-io -f qcow2 -c 'write -P 0x5a 0 1G' io.qcow2 >/dev/null
qemu-img convert -O raw io.qcow2 io.raw
bench_case() {  # bench_case <name> <fmt> <file> <bench args...>
  local name=$1 fmt=$2 file=$3; shift 3
  local q v
  q=$(best qemu-img bench -q -d $DEPTH -f "$fmt" "$@" "$file") || exit 1
  v=$(best "$VESSEL_IMG" bench -q -d $DEPTH -f "$fmt" "$@" "$file") || exit 1
  if [[ $fmt == qcow2 ]]; then
    qemu-img check -q "$file" || { echo "FAILED: $file is damaged after: $name (qemu-img check)" >&2; exit 1; }
  fi
  row "$name" "$q" "$v"
}
DEPTH=${DEPTH:-4}   # requests in flight, the same for both tools
STRIDE=1003520  # 245 x 4 KiB: consecutive requests land ~1 MiB apart, wrapping over the image
for fmt in qcow2 raw; do
  bench_case "$fmt 4 KiB strided read, 100k req" $fmt io.$fmt -c 100000 -s 4K -S $STRIDE
  bench_case "$fmt 4 KiB strided write, 50k req" $fmt io.$fmt -w -c 50000 -s 4K -S $STRIDE
  bench_case "$fmt 1 MiB sequential read, 4 GiB" $fmt io.$fmt -c 4096 -s 1M
  bench_case "$fmt 1 MiB sequential write, 2 GiB" $fmt io.$fmt -w -c 2048 -s 1M
done
