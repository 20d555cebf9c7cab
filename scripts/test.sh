#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite through ctest: unit, integration and slow tests in
# the normal build, then the unit tests and kvm tests again in an ASan+UBSan build: every kvm test
# where this machine's KVM runs them, the guest-facing ones of tests/asan-kvm-tests.txt where they
# run in nested hosts (each costs a minute of emulation there under the sanitizers, and CI has 90).
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         a subset: the arguments go to ctest (the ASan pass is skipped)
# Tests labelled `kvm` need /dev/kvm. Where this machine's KVM can run VMs they run here; where it
# cannot (no /dev/kvm, or a module that did not bind) they run in nested KVM hosts that
# scripts/kvm-host boots under QEMU (scripts/kvm-tests; VESSEL_KVM_TESTS=direct|nested forces a
# side). No test is skipped: a test that cannot run fails the command, with the reason.
# VESSEL_SKIP_ASAN=1 skips the sanitizer pass; VESSEL_SKIP_LINUX_BOOT=1 leaves out the stock-Linux
# boots (label linux-boot: seconds with hardware KVM or in the nested host, 10-30 minutes on PVM,
# so on a PVM host they run in nested hosts unless VESSEL_KVM_BOOTS=direct). The vhost-net tests
# (label vhost) need /dev/vhost-net: where this machine has none they run in a nested host, whose
# kernel loads vhost_net (scripts/kvm-tests --vhost-mode; VESSEL_VHOST_TESTS=direct|nested).
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$top/scripts/setup.sh"

echo "== [+${SECONDS}s] build" >&2
"$top/scripts/build.sh" | tail -1

log=$(mktemp /tmp/vessel-test.XXXXXX.log)
failures=$(mktemp /tmp/vessel-failures.XXXXXX.txt)
details=$(mktemp /tmp/vessel-failure-details.XXXXXX.txt)
trap 'rm -f "$log" "$failures" "$details"' EXIT
status=0
pass="build"  # which pass is running, for the summary of failures
# Keeps the names of the failed tests of a log, for the summary at the end (CI shows the tail).
record_failures() {
  sed -n -E -e '/^(\[kvm-host [0-9]+\] )?\s+[0-9]+ - .+\(.+\)$/p' \
    -e '/(ended with status|skipped tests or could not run)/p' "$1" |
    sed "s/^/[$pass] /" >>"$failures"
  awk -f "$top/scripts/failure-details.awk" "$1" | sed "s/^/[$pass] /" >>"$details"
}
# ctest, with its output kept: a skipped test fails the run (a skip is not a pass).
run_ctest() {
  local rc=0
  ctest --output-on-failure "$@" 2>&1 | tee "$log" || rc=$?
  if grep -q -E '\*\*\*Skipped|Not Run' "$log"; then
    echo "test: tests were skipped or not run (above): that is a failure here" >&2
    rc=1
  fi
  ((rc == 0)) || { status=1; record_failures "$log"; }
}
# scripts/kvm-tests, with its output kept the same way.
run_kvm_tests() {
  local rc=0
  "$top/scripts/kvm-tests" "$@" 2>&1 | tee "$log" || rc=$?
  ((rc == 0)) || { status=1; record_failures "$log"; }
}

cd "$top/build"
kvm_mode=$("$top/scripts/kvm-tests" --mode "$top/build")
vhost_mode=$("$top/scripts/kvm-tests" --vhost-mode "$top/build")
# The vhost tests of a build, where they can run (the other passes leave them out).
run_vhost_tests() {
  local build=$1
  if [[ $vhost_mode == direct ]]; then
    echo "== [+${SECONDS}s] vhost-net tests (label vhost), here" >&2
    run_ctest --timeout 600 -L vhost  # the current directory is that build
  else
    echo "== [+${SECONDS}s] vhost-net tests (label vhost), in a nested KVM host: no /dev/vhost-net here" >&2
    VESSEL_KVM_TESTS=nested VESSEL_KVM_HOSTS=1 run_kvm_tests "$build" -L vhost
  fi
}
asan=0  # the sanitizer pass runs with the whole suite, unless VESSEL_SKIP_ASAN=1
[[ $# -eq 0 && "${VESSEL_SKIP_ASAN:-0}" != 1 ]] && asan=1
skip_boot=()
[[ "${VESSEL_SKIP_LINUX_BOOT:-0}" == 1 ]] && skip_boot=(-LE linux-boot)
if [[ $kvm_mode == direct ]]; then
  echo "== [+${SECONDS}s] test (this machine's /dev/kvm runs the kvm tests)" >&2
  if [[ $# -gt 0 ]]; then
    run_ctest --timeout 3000 "$@"
  else
    run_ctest --timeout 3000 -LE 'linux-boot|vhost'
    run_vhost_tests "$top/build"
    if [[ ${#skip_boot[@]} == 0 ]]; then
      if [[ $("$top/scripts/kvm-tests" --boot-mode "$top/build") == direct ]]; then
        echo "== [+${SECONDS}s] stock Linux boots (label linux-boot)" >&2
        run_ctest -j2 -L linux-boot
      else
        echo "== [+${SECONDS}s] stock Linux boots (label linux-boot), in nested KVM hosts: see scripts/kvm-tests on PVM" >&2
        VESSEL_KVM_TESTS=nested run_kvm_tests "$top/build" -L linux-boot
      fi
    fi
  fi
else
  echo "== [+${SECONDS}s] test: everything but the kvm tests, on this machine" >&2
  run_ctest --timeout 3000 -LE kvm "$@"
  echo "== [+${SECONDS}s] test: the kvm tests, in nested KVM hosts (scripts/kvm-host)" >&2
  if [[ $# -gt 0 ]]; then
    run_kvm_tests "$top/build" "$@"
  else
    run_kvm_tests "$top/build" "${skip_boot[@]}"
  fi
fi

if ((asan)); then
  pass="asan"
  echo "== [+${SECONDS}s] ASan+UBSan build: unit tests" >&2
  all_tests=0
  [[ $kvm_mode == direct ]] && all_tests=1
  VESSEL_SANITIZE=1 VESSEL_SANITIZER_ALL_TESTS=$all_tests "$top/scripts/build.sh" | tail -1
  cd "$top/build-asan"
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_ctest -L unit
  # vessel-vmm under the sanitizers (and under its seccomp filters), running the hostile test
  # guests (virtqueue, MMIO, port and boot-protocol abuse) and driven by vesseld: every kvm test
  # but the stock-Linux boots with this machine's KVM; in nested hosts the list in
  # tests/asan-kvm-tests.txt. Leak checking is off: most tests end the VMM with a signal.
  echo "== [+${SECONDS}s] ASan+UBSan build: the kvm tests ($kvm_mode)" >&2
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
  if [[ $kvm_mode == direct ]]; then
    run_ctest --timeout 600 -L kvm -LE 'linux-boot|vhost'
    run_vhost_tests "$top/build-asan"
  else
    asan_kvm=$("$top/scripts/asan-kvm-tests" "$top/build-asan") || status=1
    [[ -n $asan_kvm ]] && run_kvm_tests "$top/build-asan" -R "$asan_kvm"
  fi
fi
echo "== [+${SECONDS}s] test: done" >&2
if ((status != 0)); then
  if [[ -s $details ]]; then
    echo "== test: what the failed tests said (their failure messages, cut short; whole output above):" >&2
    cat "$details" >&2
  fi
  echo "== test: FAILED. The failed tests, by pass:" >&2
  if [[ -s $failures ]]; then cat "$failures" >&2; else echo "(no test named: a step failed)" >&2; fi
fi
exit $status
