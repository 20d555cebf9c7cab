#!/bin/bash
# Usage: bench/cluster/fault-checker.sh [BUILD_DIR] [RUNS]   (root; etcd-server, nftables, iproute2)
# The cluster's fault checker (docs/cluster.md#fault-checker), the long run: RUNS (default 100)
# randomized faults over three vesselds in their own network namespaces and a 3-member etcd:
# kill -9 of a node with its instances, of vesseld alone, SIGSTOP of vesseld past its lease,
# an nftables partition from etcd, an etcd member restart. Prints each run, then the counts:
# runs, faults by kind, split brain, lost, late, recovery p50/p99; and where it ran.
# SEED=N repeats a run's choices; TTL=S sets the lease TTL (default 3 s).
set -u
B=$(cd "${1:-build}" && pwd)
RUNS=${2:-100}
T=$B/tests/integration/cluster/cluster_daemon_tests
[ -x "$T" ] || { echo "no $T: build cluster_daemon_tests first" >&2; exit 2; }
echo "fault checker: $RUNS runs, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
env VESSEL_FAULT_RUNS=$RUNS VESSEL_FAULT_LOGS=0 ${SEED:+VESSEL_FAULT_SEED=$SEED} VESSEL_FAULT_TTL=${TTL:-3} \
  timeout $((RUNS * 60 + 300)) "$T" --gtest_filter='FaultChecker.*' 2>&1 | grep --line-buffered -E '^run |^  \(at first|^fault checker|OK|FAILED'
status=${PIPESTATUS[0]}
echo "finished $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
