#!/usr/bin/env bash
# exec latency side by side: `vessel exec` (CLI -> vesseld -> vessel-runtime exec, framed Upgrade
# stream) against `podman exec` (conmon + crun) into a running busybox container, with and without
# a pty (-t through script(1)). Prints medians and the ratio vessel / podman.
# usage: bench/console/bench_exec.sh [BUILD_DIR] [N]   (as root; BUILD_DIR default build)
set -euo pipefail
BUILD=$(realpath "${1:-build}")
N=${2:-20}
T=$(mktemp -d /tmp/bench-exec.XXXXXX)
VPID=
export CONTAINERS_CONF=$T/containers.conf CONTAINERS_STORAGE_CONF=$T/storage.conf
cleanup() {
  "$BUILD/src/cli/vessel" --socket "$T/v.sock" rm -f box >/dev/null 2>&1 || true
  [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null || true
  podman rm -f -t 0 box >/dev/null 2>&1 || true
  podman system reset -f >/dev/null 2>&1 || true
  grep "$T" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/rootfs/bin" "$T/rootfs/etc" "$T/rootfs/proc" "$T/rootfs/sys" "$T/rootfs/dev" "$T/rootfs/tmp"
cp /bin/busybox "$T/rootfs/bin/"
for a in sh true sleep cat tty; do ln -s busybox "$T/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/:/bin/sh' > "$T/rootfs/etc/passwd"; echo 'root:x:0:' > "$T/rootfs/etc/group"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }
measure() {  # prints the median ms of N runs of "$@"
  local s="" a b
  for _ in $(seq "$N"); do a=$(now_us); "$@" </dev/null >/dev/null 2>&1; b=$(now_us); s="$s $((b-a))"; done
  echo "$s" | median
}

# vessel
"$BUILD/src/daemon/vesseld" --socket "$T/v.sock" --state-dir "$T/state" --cgroup-parent bench-exec >"$T/vesseld.log" 2>&1 &
VPID=$!
for _ in $(seq 100); do [ -S "$T/v.sock" ] && break; sleep 0.05; done
V=("$BUILD/src/cli/vessel" --socket "$T/v.sock")
"${V[@]}" run --name box --rootfs "$T/rootfs" -- /bin/sleep 100000 >/dev/null

NPROC=$(ulimit -Hu); [ "$NPROC" = unlimited ] && NPROC=32768; [ "$NPROC" -gt 32768 ] && NPROC=32768
# podman (offline recipe of /work/shared/peers/containers/clients_smoke.sh)
printf '[storage]\ndriver = "overlay"\nrunroot = "%s/prun"\ngraphroot = "%s/pgraph"\n' "$T" "$T" > "$T/storage.conf"
printf '[containers]\nnetns = "none"\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s/pevents.log"\ntmp_dir = "%s/ptmp"\n' \
  "$(ulimit -Hn)" "$(ulimit -Hn)" "$NPROC" "$NPROC" "$T" "$T" > "$T/containers.conf"
podman import "$T/rootfs.tar" localhost/benchexec:latest >/dev/null 2>&1
P=(podman --runtime /usr/sbin/runc)
"${P[@]}" run -d --name box localhost/benchexec /bin/sleep 100000 >/dev/null

printf '%-34s %10s %10s %8s\n' "exec of /bin/true (median of $N)" "vessel ms" "podman ms" "ratio"
v=$(measure "${V[@]}" exec box -- /bin/true); p=$(measure "${P[@]}" exec box /bin/true)
printf '%-34s %10s %10s %8s\n' "pipes" "$v" "$p" "$(echo "$v $p" | awk '{printf "%.2fx", $1/$2}')"
vcmd=$(printf '%q ' "${V[@]}" exec -t box -- /bin/true)
v=$(measure script -qec "$vcmd" /dev/null); p=$(measure script -qec "podman --runtime /usr/sbin/runc exec -t box /bin/true" /dev/null)
printf '%-34s %10s %10s %8s\n' "-t (pty, through script(1))" "$v" "$p" "$(echo "$v $p" | awk '{printf "%.2fx", $1/$2}')"
