#!/bin/bash
# Runs the OCI runtime-tools validation programs against several runtimes and prints, per
# program, pass/FAIL for each, and the pass counts. The suite is fetched third-party code built
# outside the repository (Go): point RTT at a checkout where `validation/*.t` and `runtimetest`
# are built, e.g.
#   git archive <runtime-tools commit> | tar -x -C /tmp/rtt; cd /tmp/rtt
#   GOFLAGS=-mod=vendor CGO_ENABLED=0 go build -tags "netgo osusergo" -o runtimetest ./cmd/runtimetest
#   for d in validation/*/; do go build -o validation/$(basename $d).t ./validation/$(basename $d); done
# Usage: RTT=/tmp/rtt conformance_runtime_tools.sh RUNTIME...   (default: crun runc)
# Env: HYBRID=1 keeps /sys/fs/cgroup/unified (crun refuses it; default: run in a private mount
# namespace without it, as the peer benchmarks do). TIMEOUT per program (default 60 s).
set -u
RTT=${RTT:-/tmp/rtt}
RUNTIMES=("$@"); [ ${#RUNTIMES[@]} -eq 0 ] && RUNTIMES=(/usr/bin/crun /usr/sbin/runc)
TIMEOUT=${TIMEOUT:-60}
if [ -z "${HYBRID:-}" ] && [ -z "${_RTT_NS:-}" ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
  export _RTT_NS=1
  exec unshare -m --propagation private /bin/bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "${RUNTIMES[@]}"
fi
cd "$RTT" || exit 1
declare -A PASS
LOG=$(mktemp -d /tmp/rtt-log.XXXXXX)
for t in validation/*.t; do
  [ "$(basename "$t")" = util.t ] && continue   # a helper package, not a test program
  name=$(basename "$t" .t)
  line=$(printf '%-36s' "$name")
  for rt in "${RUNTIMES[@]}"; do
    out="$LOG/$name.$(basename "$rt").tap"
    RUNTIME=$rt timeout "$TIMEOUT" "./$t" >"$out" 2>&1
    rc=$?
    if [ $rc = 0 ] && ! grep -q '^not ok' "$out" && grep -q '^ok' "$out"; then
      r=pass; PASS[$rt]=$(( ${PASS[$rt]:-0} + 1 ))
    else
      r="FAIL($(grep -c '^not ok' "$out")/$(grep -cE '^(not )?ok' "$out"))"; [ $rc = 124 ] && r=TIMEOUT
    fi
    line+=$(printf ' %-14s' "$r")
  done
  echo "$line"
done
total=$(ls validation/*.t | grep -vc /util.t)
for rt in "${RUNTIMES[@]}"; do echo "# $(basename "$rt"): ${PASS[$rt]:-0}/$total programs pass"; done
echo "# TAP output per program and runtime: $LOG"
