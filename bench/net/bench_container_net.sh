#!/bin/bash
# Usage: bench/net/bench_container_net.sh [BUILD_DIR] [ROUNDS]   (root; no KVM needed)
# Container networking, vessel against podman (netavark bridge + its port forwarding) on this host,
# interleaved round by round, the same rootfs (static busybox + iperf3 and its libraries):
#   tcp_in   host -> container TCP throughput over the bridge (iperf3 -c ADDR, 5 s)
#   tcp_out  container -> host (iperf3 -R)
#   conn     HTTP requests per second through a published port on 127.0.0.1 (ab -n 3000 -c 8
#            against busybox httpd: a new TCP connection per request)
# vessel runs with --cpus 2 (its default quota is 1 CPU; podman sets none). Every command's exit status is checked. Prints each round, the medians and vessel / podman.
set -u
B=$(cd "${1:-build}" && pwd)
ROUNDS=${2:-5}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for t in iperf3 ab podman; do command -v $t >/dev/null || { echo "$t is missing: scripts/setup.sh installs it" >&2; exit 1; }; done
D=$(mktemp -d /tmp/bench-net.XXXXXX)
VPORT=18481 PPORT=18482
P="podman --root $D/podman/root --runroot $D/podman/run --cgroup-manager cgroupfs --events-backend file"
export CONTAINERS_CONF=$D/containers.conf
printf '[containers]\ndefault_ulimits = []\n' > $CONTAINERS_CONF
V="$B/src/cli/vessel --socket $D/vesseld.sock"

cleanup() {
  $V rm -f vsrv >/dev/null 2>&1
  [ -f $D/vesseld.pid ] && { kill $(cat $D/vesseld.pid) 2>/dev/null; wait 2>/dev/null; }
  $P rm -f -t 0 psrv >/dev/null 2>&1
  ip link del vbench0 2>/dev/null
  nft delete table ip vessel_bench 2>/dev/null
  rmdir /sys/fs/cgroup/*/vessel-bench-net 2>/dev/null
  umount -R $D/podman 2>/dev/null
  rm -rf "$D"
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; [ -f $D/vesseld.log ] && tail -5 $D/vesseld.log >&2; exit 1; }

# The rootfs: static busybox (httpd, sh) and iperf3 with the libraries ldd names.
R=$D/rootfs
mkdir -p $R/bin $R/etc $R/proc $R/sys $R/dev $R/tmp $R/www
cp /bin/busybox $R/bin/ && ln -s busybox $R/bin/sh
cp /usr/bin/iperf3 $R/bin/
for lib in $(ldd /usr/bin/iperf3 | grep -o '/[^ ]*'); do mkdir -p $R$(dirname $lib) && cp -L $lib $R$lib; done
head -c 1024 /dev/zero | tr '\0' x > $R/www/index.html
echo 'root:x:0:0:root:/:/bin/sh' > $R/etc/passwd

# vessel: its own bridge, subnet and table, so that nothing collides with a real vesseld.
$B/src/daemon/vesseld --socket $D/vesseld.sock --state-dir $D/state --cgroup-parent vessel-bench-net \
  --default-subnet 10.151.0.0/24 --default-bridge vbench0 --nft-table vessel_bench > $D/vesseld.log 2>&1 &
echo $! > $D/vesseld.pid
for i in $(seq 100); do $V ls >/dev/null 2>&1 && break; sleep 0.1; done
$V ls >/dev/null || fail "vesseld did not start"
SERVE='/bin/busybox httpd -p 80 -h /www; exec /bin/iperf3 -s'
$V run --name vsrv --cpus 2 -p 127.0.0.1:$VPORT:80 --rootfs $R -- /bin/sh -c "$SERVE" >/dev/null || fail "vessel run"
VADDR=$($V inspect vsrv | python3 -c 'import json,sys; print(json.load(sys.stdin)["ip_address"])') || fail "vessel inspect"

# podman: its default bridge network (netavark), the same rootfs and command. With runc as its
# runtime: crun refuses this host's hybrid cgroup layout, and hiding the cgroup2 mount in a private
# mount namespace would hide podman's netns mounts from its later commands too (its rm would then
# leave netavark's rules behind). The runtime does not touch the network path.
$P --runtime /usr/sbin/runc run -d --name psrv -p 127.0.0.1:$PPORT:80 --rootfs $R /bin/sh -c "$SERVE" >/dev/null || fail "podman run"
PADDR=$($P inspect psrv --format '{{.NetworkSettings.IPAddress}}') || fail "podman inspect"
[ -n "$VADDR" ] && [ -n "$PADDR" ] || fail "no address: vessel '$VADDR' podman '$PADDR'"
echo "# vessel container at $VADDR, podman container at $PADDR; $ROUNDS rounds, $(nproc) CPUs, $(uname -r)"
sleep 1

gbps() { python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'; }
tcp() { iperf3 -c $1 -t 5 -J $2 > $D/iperf.json || fail "iperf3 -c $1 $2: $(tail -3 $D/iperf.json)"; gbps < $D/iperf.json; }
conn() {
  ab -q -n 3000 -c 8 http://127.0.0.1:$1/index.html > $D/ab.txt 2>&1 || fail "ab on port $1: $(tail -3 $D/ab.txt)"
  grep -q '^Failed requests: *0' $D/ab.txt || fail "ab on port $1: failed requests: $(grep 'Failed requests' $D/ab.txt)"
  awk '/^Requests per second/ {print $4}' $D/ab.txt
}
for r in $(seq $ROUNDS); do
  for who in vessel podman; do
    if [ $who = vessel ]; then a=$VADDR; port=$VPORT; else a=$PADDR; port=$PPORT; fi
    # fail() inside $(...) ends only the subshell: each result is checked here.
    tin=$(tcp $a "") && tout=$(tcp $a -R) && rate=$(conn $port) || exit 1
    echo "$who $r tcp_in=$tin tcp_out=$tout conn=$rate" | tee -a $D/results
  done
done
median() { grep "^$1 " $D/results | sed "s/.* $2=\([0-9.]*\).*/\1/" | sort -g | awk '{a[NR]=$1} END {print NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for k in tcp_in tcp_out conn; do
  unit=$([ $k = conn ] && echo "req/s" || echo "Gbit/s")
  echo "$k ($unit): vessel $(median vessel $k), podman $(median podman $k), vessel / podman = x$(awk -v a=$(median vessel $k) -v b=$(median podman $k) 'BEGIN {printf "%.2f", a / b}')"
done
