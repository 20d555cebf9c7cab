#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite through ctest: unit, integration and slow tests in
# the normal build, then the unit tests again in an ASan+UBSan build.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         a subset: the arguments go to ctest (the ASan pass is skipped)
# VESSEL_SKIP_ASAN=1 skips the sanitizer pass; VESSEL_SKIP_LINUX_BOOT=1 skips the stock-Linux boots.
# The stock-Linux boots (label linux-boot: vmm_linux_boot, daemon_linux_guest) run last, side by
# side: on a PVM host the guest kernel's ring-0 code is emulated and each boot takes many minutes
# (docs/vmm-pvm.md); with VT-x/AMD-V they take seconds.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$top/scripts/setup.sh"

echo "== build" >&2
"$top/scripts/build.sh" | tail -1

echo "== test" >&2
cd "$top/build"
status=0
if [[ $# -gt 0 ]]; then
  ctest --output-on-failure --timeout 3000 "$@" || status=$?
else
  ctest --output-on-failure --timeout 3000 -LE linux-boot || status=$?
  if [[ "${VESSEL_SKIP_LINUX_BOOT:-0}" != 1 ]]; then
    echo "== stock Linux boots (label linux-boot; minutes each on PVM hosts)" >&2
    ctest --output-on-failure -j2 -L linux-boot || status=$?
  fi
fi

if [[ $# -eq 0 && "${VESSEL_SKIP_ASAN:-0}" != 1 ]]; then
  echo "== ASan+UBSan build: unit tests" >&2
  VESSEL_SANITIZE=1 "$top/scripts/build.sh" | tail -1
  cd "$top/build-asan"
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -L unit || status=$?
fi
exit $status
