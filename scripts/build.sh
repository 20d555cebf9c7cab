#!/usr/bin/env bash
# Configures (once) and builds vessel into build/ with Ninja. Extra arguments go to ninja.
# VESSEL_SANITIZE=1 builds with ASan+UBSan into build-asan/.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$top/build"
args=()
if [[ "${VESSEL_SANITIZE:-0}" == 1 ]]; then
  dir="$top/build-asan"
  args+=(-DVESSEL_SANITIZE=ON)
fi
# ccache hits across clones in other directories (CI builds a fresh clone).
export CCACHE_BASEDIR="$top" CCACHE_NOHASHDIR=true
if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S "$top" -B "$dir" -G Ninja "${args[@]}" >/dev/null
fi
ninja -C "$dir" "$@"
