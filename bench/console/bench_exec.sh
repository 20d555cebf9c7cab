#!/usr/bin/env bash
# exec latency side by side: `vessel exec` (CLI -> vesseld -> vessel-runtime exec, framed Upgrade
# stream) against `podman exec` (conmon + runc) into a running busybox container, with and without
# a pty (-t through script(1)). The runs are interleaved: vessel, podman, podman, vessel, ... so
# that both see the same machine. Every run must exit 0 (each tool is first shown to pass a
# command's output and exit status through), or the script stops with the failing command: a
# failed exec is never reported as a time. Prints medians and the ratio vessel / podman.
# usage: bench/console/bench_exec.sh [BUILD_DIR] [N]   (as root; BUILD_DIR default build)
set -euo pipefail
BUILD=$(realpath "${1:-build}")
N=${2:-20}
T=$(mktemp -d /tmp/bench-exec.XXXXXX)
VPID=
source "$(dirname "${BASH_SOURCE[0]}")/../lib/podman-offline.sh"
export CONTAINERS_CONF=$T/containers.conf CONTAINERS_STORAGE_CONF=$T/storage.conf
cleanup() {
  "$BUILD/src/cli/vessel" --socket "$T/v.sock" rm -f box >/dev/null 2>&1 || true
  [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null || true
  podman_cleanup "$T"
}
trap cleanup EXIT

busybox_rootfs "$T" sh true sleep cat tty echo
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }
once() {  # once CMD...: runs it, prints its wall time in us; a failing run stops the script
  local a b rc=0
  a=$(now_us); "$@" </dev/null >"$T/run.out" 2>&1 || rc=$?; b=$(now_us)
  if ((rc != 0)); then
    { echo "FAILED (exit status $rc): $*"; tail -n 20 "$T/run.out"; } >&2
    exit 1
  fi
  LAST=$((b - a))
}
expect() {  # expect WANT_STATUS WANT_OUTPUT CMD...: the tool passes output and status through
  local want_rc=$1 want_out=$2 rc=0 out; shift 2
  out=$("$@" </dev/null 2>&1) || rc=$?
  out=${out//$'\r'/}
  if [[ $rc != "$want_rc" || $out != *"$want_out"* ]]; then
    echo "FAILED: $* gave exit status $rc and output '$out' (expected $want_rc and '$want_out')" >&2
    exit 1
  fi
}
interleaved() {  # interleaved LABEL: N rounds of VCMD and PCMD, order alternating; prints the row
  local vs="" ps="" i v p
  once "${VCMD[@]}"; once "${PCMD[@]}"   # warm-up
  for ((i = 0; i < N; i++)); do
    if ((i % 2 == 0)); then
      once "${VCMD[@]}"; vs+=" $LAST"; once "${PCMD[@]}"; ps+=" $LAST"
    else
      once "${PCMD[@]}"; ps+=" $LAST"; once "${VCMD[@]}"; vs+=" $LAST"
    fi
  done
  v=$(echo "$vs" | median); p=$(echo "$ps" | median)
  printf '%-34s %10s %10s %8s\n' "$1" "$v" "$p" "$(echo "$v $p" | awk '{printf "%.2fx", $1/$2}')"
}

# vessel
"$BUILD/src/daemon/vesseld" --socket "$T/v.sock" --state-dir "$T/state" --cgroup-parent bench-exec >"$T/vesseld.log" 2>&1 &
VPID=$!
for _ in $(seq 100); do [ -S "$T/v.sock" ] && break; sleep 0.05; done
[ -S "$T/v.sock" ] || { echo "FAILED: vesseld did not start:" >&2; tail -n 20 "$T/vesseld.log" >&2; exit 1; }
V=("$BUILD/src/cli/vessel" --socket "$T/v.sock")
"${V[@]}" run --name box --rootfs "$T/rootfs" -- /bin/sleep 100000 >/dev/null

# podman, offline: overlay storage under $T, cgroupfs, no network, events to a file
podman_offline "$T"
podman import "$T/rootfs.tar" localhost/benchexec:latest >/dev/null 2>&1
P=(podman --runtime /usr/sbin/runc)
"${P[@]}" run -d --name box localhost/benchexec /bin/sleep 100000 >/dev/null

# Both tools pass a command's output and exit status through, with and without a pty; so exit
# status 0 of the timed /bin/true runs means the command ran in the container.
vcmd=$(printf '%q ' "${V[@]}" exec -t box -- /bin/sh -c 'echo in-box; exit 7')
expect 7 in-box "${V[@]}" exec box -- /bin/sh -c 'echo in-box; exit 7'
expect 7 in-box "${P[@]}" exec box /bin/sh -c 'echo in-box; exit 7'
expect 7 in-box script -qec "$vcmd" /dev/null
expect 7 in-box script -qec "podman --runtime /usr/sbin/runc exec -t box /bin/sh -c 'echo in-box; exit 7'" /dev/null

printf '%-34s %10s %10s %8s\n' "exec of /bin/true (median of $N)" "vessel ms" "podman ms" "ratio"
VCMD=("${V[@]}" exec box -- /bin/true); PCMD=("${P[@]}" exec box /bin/true)
interleaved "pipes"
VCMD=(script -qec "$(printf '%q ' "${V[@]}" exec -t box -- /bin/true)" /dev/null)
PCMD=(script -qec "podman --runtime /usr/sbin/runc exec -t box /bin/true" /dev/null)
interleaved "-t (pty, through script(1))"
