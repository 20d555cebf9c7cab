#!/usr/bin/env bash
# Throughput of an exec stream over TLS (`vessel --remote`, as between hosts and cluster nodes):
# `cat` of an 8 MiB file in a running busybox container through `vessel exec`, over vesseld's
# Unix socket, over its TLS port with this build (GnuTLS in front of libmicrohttpd,
# src/http/tls_front.cc), and over the TLS port of an older build (BEFORE_BUILD, libmicrohttpd's
# own TLS); the peer: `podman exec` (conmon + runc, local: podman has no remote exec over TLS).
# Interleaved rounds; every run must exit 0 and pass every byte through (checked once per path),
# or the script stops. Prints medians in ms and MiB/s, and the ratios.
# usage: bench/console/bench_exec_tls.sh BUILD_DIR [BEFORE_BUILD_DIR] [ROUNDS]   (as root)
set -euo pipefail
BUILD=$(realpath "${1:-build}")
BEFORE=${2:-}
N=${3:-3}
MIB=8
T=$(mktemp -d /tmp/bench-exec-tls.XXXXXX)
PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/../lib/podman-offline.sh"
export CONTAINERS_CONF=$T/containers.conf CONTAINERS_STORAGE_CONF=$T/storage.conf
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  podman_cleanup "$T"
}
trap cleanup EXIT

busybox_rootfs "$T" sh cat sleep head wc
head -c $((MIB << 20)) /dev/urandom > "$T/rootfs/data"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
  -keyout "$T/client.key" -out "$T/client.crt" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_vesseld NAME BUILD: a vesseld with a TLS port trusting the client; sets LOCAL and REMOTE.
start_vesseld() {
  local name=$1 build=$2 port fp
  port=$(free_port)
  "$build/src/daemon/vesseld" --socket "$T/$name.sock" --state-dir "$T/$name" --cgroup-parent "bench-$name" \
    --listen "tcp://127.0.0.1:$port" --allowed-host-path "$T" >"$T/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do [ -S "$T/$name.sock" ] && [ -f "$T/$name/tls/server.fingerprint" ] && break; sleep 0.05; done
  [ -S "$T/$name.sock" ] || { echo "FAILED: vesseld $name did not start:" >&2; tail -n 20 "$T/$name.log" >&2; exit 1; }
  LOCAL=("$build/src/cli/vessel" --socket "$T/$name.sock")
  "${LOCAL[@]}" trust add "$T/client.crt" --name bench --role operator >/dev/null
  fp=$(cut -d' ' -f1 "$T/$name/tls/server.fingerprint")
  REMOTE=("$build/src/cli/vessel" --remote "https://127.0.0.1:$port" --client-cert "$T/client.crt"
          --client-key "$T/client.key" --server-fingerprint "$fp")
  "${LOCAL[@]}" run --name box --rootfs "$T/rootfs" -- /bin/sleep 100000 >/dev/null
}

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }
declare -A TIMES CMDS
# check LABEL CMD...: the path passes every byte of the file through, and exits 0
check() {
  local label=$1 n; shift
  n=$("$@" </dev/null 2>"$T/err" | wc -c) || { echo "FAILED: $label: $(tail -n 5 "$T/err")" >&2; exit 1; }
  [[ $n == $((MIB << 20)) ]] || { echo "FAILED: $label passed $n bytes, not $((MIB << 20))" >&2; exit 1; }
}
run() {  # run LABEL CMD...: one timed run into /dev/null; a failure stops the script
  local label=$1 a b rc=0; shift
  a=$(now_us); "$@" </dev/null >/dev/null 2>"$T/err" || rc=$?; b=$(now_us)
  ((rc == 0)) || { echo "FAILED (exit status $rc): $label: $(tail -n 5 "$T/err")" >&2; exit 1; }
  TIMES[$label]+=" $((b - a))"
}

start_vesseld after "$BUILD"
AFTER_LOCAL=("${LOCAL[@]}"); AFTER_REMOTE=("${REMOTE[@]}")
LABELS=("vessel, Unix socket" "vessel, TLS")
check "vessel, Unix socket" "${AFTER_LOCAL[@]}" exec box -- /bin/cat /data
check "vessel, TLS" "${AFTER_REMOTE[@]}" exec box -- /bin/cat /data
if [[ -n $BEFORE ]]; then
  start_vesseld before "$(realpath "$BEFORE")"
  BEFORE_REMOTE=("${REMOTE[@]}")
  LABELS+=("before: libmicrohttpd's TLS")
  check "before: libmicrohttpd's TLS" "${BEFORE_REMOTE[@]}" exec box -- /bin/cat /data
fi
podman_offline "$T"
podman import "$T/rootfs.tar" localhost/benchexectls:latest >/dev/null 2>&1
P=(podman --runtime /usr/sbin/runc)
"${P[@]}" run -d --name box localhost/benchexectls /bin/sleep 100000 >/dev/null
LABELS+=("podman exec (local)")
check "podman exec (local)" "${P[@]}" exec box /bin/cat /data

echo "== $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg); $MIB MiB through exec, $N rounds"
for ((i = 0; i < N; i++)); do
  run "vessel, Unix socket" "${AFTER_LOCAL[@]}" exec box -- /bin/cat /data
  run "vessel, TLS" "${AFTER_REMOTE[@]}" exec box -- /bin/cat /data
  [[ -n $BEFORE ]] && run "before: libmicrohttpd's TLS" "${BEFORE_REMOTE[@]}" exec box -- /bin/cat /data
  run "podman exec (local)" "${P[@]}" exec box /bin/cat /data
done
podman_ms=$(echo "${TIMES["podman exec (local)"]}" | median)
printf '%-30s %10s %10s %12s\n' "path (median of $N)" "ms" "MiB/s" "/ podman"
for l in "${LABELS[@]}"; do
  ms=$(echo "${TIMES[$l]}" | median)
  printf '%-30s %10s %10s %12s\n' "$l" "$ms" "$(echo "$ms" | awk -v m=$MIB '{printf "%.1f", m*1000/$1}')" \
    "$(echo "$ms $podman_ms" | awk '{printf "%.2fx", $1/$2}')"
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
