#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite through ctest: unit, integration and slow tests in
# the normal build, then the unit tests again in an ASan+UBSan build.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         a subset: the arguments go to ctest (the ASan pass is skipped)
# VESSEL_SKIP_ASAN=1 skips the sanitizer pass.
# The stock-Linux boots (label linux-boot) take 15-30 minutes each on a PVM host, where the guest
# kernel is emulated (docs/vmm-pvm.md: a Debian kernel now boots to user space and powers off
# there). They are left out of the default run until their time is measured on a quiet machine;
# VESSEL_LINUX_BOOT=1 includes them.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$top/scripts/setup.sh"

echo "== build" >&2
"$top/scripts/build.sh" | tail -1

echo "== test" >&2
cd "$top/build"
status=0
# The Linux-guest boots have their own long timeouts (a stock kernel on a PVM host takes minutes).
args=("$@")
if [[ $# -eq 0 && "${VESSEL_LINUX_BOOT:-0}" != 1 ]]; then
  args=(-LE linux-boot)
  echo "(leaving out the linux-boot tests, 15-30 minutes each on PVM hosts; VESSEL_LINUX_BOOT=1 runs them)" >&2
fi
ctest --output-on-failure --timeout 3000 "${args[@]}" || status=$?

if [[ $# -eq 0 && "${VESSEL_SKIP_ASAN:-0}" != 1 ]]; then
  echo "== ASan+UBSan build: unit tests" >&2
  VESSEL_SANITIZE=1 "$top/scripts/build.sh" | tail -1
  cd "$top/build-asan"
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -L unit || status=$?
fi
exit $status
