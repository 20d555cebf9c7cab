#!/usr/bin/env bash
# Configures (once) and builds vessel into build/ with Ninja. Extra arguments go to ninja.
# VESSEL_SANITIZE=1 builds with ASan+UBSan into build-asan/ (docs/building.md).
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$top/build"
args=()
if [[ "${VESSEL_SANITIZE:-0}" == 1 ]]; then
  dir="$top/build-asan"
  # VESSEL_SANITIZER_ALL_TESTS=1: every test program, for a sanitizer pass that runs every kvm test
  # (scripts/test.sh, where this machine's KVM runs VMs); else those tests/asan-kvm-tests.txt needs.
  all=OFF
  [[ "${VESSEL_SANITIZER_ALL_TESTS:-0}" == 1 ]] && all=ON
  args+=(-DVESSEL_SANITIZE=ON -DVESSEL_SANITIZER_ALL_TESTS=$all)
fi
# ccache hits across clones in other directories (CI builds a fresh clone).
export CCACHE_BASEDIR="$top" CCACHE_NOHASHDIR=true
if [[ ! -f "$dir/build.ninja" || ${#args[@]} -gt 0 ]]; then
  cmake -S "$top" -B "$dir" -G Ninja "${args[@]}" >/dev/null
fi
ninja -C "$dir" "$@"
