#!/bin/bash
# vessel-runtime beside crun and runc in one interleaved run: latency of run/create/start/delete/
# state/exec/pause/resume/ps/delete -f and peak RSS, with ratios to vessel-runtime (first column
# is the reference: a ratio > 1 means the peer is slower).
#
# Usage: bench/runtime/bench_runtime.sh [N] [VESSEL_RUNTIME_BINARY]
#   N defaults to 20; the binary defaults to build/src/runtime/vessel-runtime.
# Env: VARIANTS="plain seccomp" (both by default), see the peer script for the rest.
# Runs bench/runtime/bench_oci_runtimes.sh (it started as the team's peer script; the project
# keeps its own copy and reads nothing outside the repository), which runs every runtime in a
# private mount namespace without /sys/fs/cgroup/unified where crun would refuse a hybrid cgroup
# layout, and stops on the first command that fails.
set -eu
N=${1:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${2:-$HERE/../../build/src/runtime/vessel-runtime}
BIN=$(readlink -f "$BIN")
PEER=$HERE/bench_oci_runtimes.sh
[ -x "$BIN" ] || { echo "build vessel-runtime first: $BIN" >&2; exit 1; }
exec bash "$PEER" "$N" "$BIN" /usr/bin/crun /usr/sbin/runc
