#!/bin/bash
# Usage: bench/daemon/bench_vm_jailer.sh [BUILD_DIR] [RUNS]  (root, /dev/kvm; a test-kit guest, never Linux)
# Boot cost of the jailer under vesseld: two vesselds (default = jailed, --no-jailer), the same
# test-kit guest (acpi_poweroff: boots and powers off), N interleaved runs each.
# Per run: start = `vessel run --vm` (create + jail + VMM + configure + InstanceStart),
# total = start + `vessel wait` (the guest ran to its poweroff and vesseld saw the exit).
set -u
B=$(cd "${1:-build}" && pwd)
G=$(dirname "$(find $B -name acpi_poweroff.elf | head -1)")
N=${2:-10}
D=$(mktemp -d /tmp/bench-vm-jailer.XXXXXX)
cleanup() {
  kill $(cat $D/jail.pid $D/plain.pid 2>/dev/null) 2>/dev/null; wait
  for d in /sys/fs/cgroup/*/vessel-bench-jail /sys/fs/cgroup/*/vessel-bench-plain /sys/fs/cgroup/vessel-bench-*; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null
  done
  rm -rf "$D"
}
trap cleanup EXIT
ms() { echo $(( ($2 - $1) / 1000000 )); }
start_daemon() {  # name extra...
  local n=$1; shift
  $B/src/daemon/vesseld --socket $D/$n.sock --state-dir $D/$n-state --cgroup-parent vessel-bench-$n \
    --vmm $B/src/vmm/vessel-vmm "$@" > $D/$n.log 2>&1 &
  echo $! > $D/$n.pid
  for i in $(seq 100); do $B/src/cli/vessel --socket $D/$n.sock ls >/dev/null 2>&1 && return; sleep 0.1; done
  echo "vesseld $n did not start"; cat $D/$n.log; exit 1
}
start_daemon jail
start_daemon plain --no-jailer
for i in $(seq $N); do
  for n in jail plain; do
    V="$B/src/cli/vessel --socket $D/$n.sock"
    t0=$(date +%s%N)
    $V run --vm --name b$i --kernel $G/acpi_poweroff.elf --memory 32M >/dev/null || { echo "$n: vessel run failed"; tail $D/$n.log; exit 1; }
    t1=$(date +%s%N)
    $V wait b$i >/dev/null || { echo "$n: vessel wait b$i failed (the guest must power off with 0)"; tail $D/$n.log; exit 1; }
    t2=$(date +%s%N)
    echo "$n $i start_ms=$(ms $t0 $t1) total_ms=$(ms $t0 $t2)" | tee -a $D/results
    $V rm b$i >/dev/null || { echo "$n: vessel rm b$i failed"; exit 1; }
  done
done
for n in jail plain; do  # medians
  for k in start_ms total_ms; do
    grep "^$n " $D/results | sed "s/.*$k=\([0-9]*\).*/\1/" | sort -n |
      awk -v n=$n -v k=$k '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; print n, k, "median", m, "min", a[1]}'
  done
done
median() { grep "^$1 " $D/results | sed "s/.*$2=\([0-9]*\).*/\1/" | sort -n | awk '{a[NR]=$1} END {print NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for k in start_ms total_ms; do
  echo "$k: jailed / --no-jailer = $(median jail $k) / $(median plain $k) = x$(awk -v a=$(median jail $k) -v b=$(median plain $k) 'BEGIN {printf "%.2f", a / b}')"
done
