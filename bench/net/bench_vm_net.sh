#!/usr/bin/env bash
# Usage: bench/net/bench_vm_net.sh [BUILD_DIR] [ROUNDS]   (root; in the nested KVM host where this
# machine's /dev/kvm cannot boot Linux quickly: bench/lib/kvm-place.sh decides and says so)
# VM TCP throughput over a tap: vessel-vmm's virtio-net against QEMU microvm's virtio-net-device,
# each without and with vhost-net ("vhost": "off" / "on" in vessel-vmm's network-interfaces). The same default guest (build/guest: Debian's kernel, the initramfs
# with /init) plus iperf3 and its libraries appended as a second cpio archive; each VM on its own
# tap with its own /24, the address by ip= (applied by /init), `iperf3 -s` as the guest command.
# The four VMs boot once; then ROUNDS interleaved rounds of host->guest (iperf3 -c, 5 s) and
# guest->host (-R). Every command's status is checked; prints the medians and vessel / QEMU.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD="$(realpath "${1:-$HERE/../../build}")"
ROUNDS=${2:-3}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for t in iperf3 qemu-system-x86_64 cpio; do command -v $t >/dev/null || { echo "$t is missing: scripts/setup.sh installs it" >&2; exit 1; }; done
source "$HERE/../lib/kvm-place.sh"
# A stock kernel boots in 10-30 minutes on a PVM host (its ring 0 is emulated): nested host there.
[[ -z ${VESSEL_BENCH_NESTED:-} && -d /sys/module/kvm_pvm ]] && export VESSEL_BENCH_NESTED=1
bench_kvm_place "$BUILD" "$HERE/bench_vm_net.sh" "$BUILD" "$ROUNDS"

G=$BUILD/guest
[ -r $G/vmlinux ] && [ -r $G/initramfs.cpio ] || { echo "build the default guest first (ninja -C $BUILD default_guest)" >&2; exit 1; }
D=$(mktemp -d /tmp/bench-vm-net.XXXXXX)
PIDS=()
TAPS=(vbnv vbnq vbnh vbnx)  # vessel, qemu, qemu+vhost, vessel+vhost
cleanup() {
  # A wedged guest would never answer vessel-vmm's Ctrl+Alt+Del: SIGKILL after 5 s.
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for t in "${TAPS[@]}"; do ip link del "$t" 2>/dev/null || true; done
  rm -rf "$D"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*" >&2
  for s in vessel vessel_vhost; do
    [ -S $D/$s.sock ] && { echo "--- $s metrics" >&2; curl -s -m 5 --unix-socket $D/$s.sock http://localhost/metrics >&2; echo >&2; }
  done
  for f in "$D"/*.console; do [ -f "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done; exit 1; }

# The guest: the default initramfs followed by a second archive with iperf3 (the kernel unpacks both).
mkdir -p $D/extra/bin
cp /usr/bin/iperf3 $D/extra/bin/
for lib in $(ldd /usr/bin/iperf3 | grep -o '/[^ ]*'); do mkdir -p $D/extra$(dirname $lib) && cp -L $lib $D/extra$lib; done
(cd $D/extra && find . | cpio -o -H newc --quiet) > $D/extra.cpio
cat $G/initramfs.cpio $D/extra.cpio > $D/initramfs.cpio
BASE_ARGS="$(cat $G/cmdline) quiet"

modprobe vhost_net 2>/dev/null || true
[ -c /dev/vhost-net ] || fail "/dev/vhost-net is missing (modprobe vhost_net): no vhost peer"

net_up() {  # tap index: 10.199.<index>.1/24 on the host
  ip tuntap add dev ${TAPS[$1]} mode tap && ip addr add 10.199.$1.1/24 dev ${TAPS[$1]} && ip link set ${TAPS[$1]} up ||
    fail "cannot make tap ${TAPS[$1]}"
}
guest_args() { echo "$BASE_ARGS ip=10.199.$1.2::10.199.$1.1:255.255.255.0::eth0:off -- iperf3 -s"; }

start_vessel() {  # index vhost(on|off) name
  net_up $1
  cat > $D/$3.json <<JSON
{"boot-source": {"kernel_image_path": "$G/vmlinux", "initrd_path": "$D/initramfs.cpio", "boot_args": "$(guest_args $1)"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "${TAPS[$1]}", "guest_mac": "06:00:0a:c7:0$1:02", "vhost": "$2"}]}
JSON
  $BUILD/src/vmm/vessel-vmm --config-file $D/$3.json --api-sock $D/$3.sock > $D/$3.console 2>&1 &
  PIDS+=($!)
}
start_qemu() {  # index vhost(on|off)
  net_up $1
  qemu-system-x86_64 -accel kvm -cpu host -m 256 -smp 1 -nodefaults -no-user-config -nographic -no-reboot \
    -M microvm,x-option-roms=off,pit=off,pic=off,isa-serial=on,rtc=off -serial stdio \
    -kernel $G/vmlinux -initrd $D/initramfs.cpio -append "$(guest_args $1)" \
    -netdev tap,id=n0,ifname=${TAPS[$1]},script=no,downscript=no,vhost=$2 \
    -device virtio-net-device,netdev=n0,mac=06:00:0a:c7:0$1:02 > $D/qemu-$2.console 2>&1 < /dev/null &
  PIDS+=($!)
}
wait_server() {  # index name: until iperf3 answers in the guest
  for _ in $(seq 300); do
    timeout -k 5 20 iperf3 -c 10.199.$1.2 -t 1 >/dev/null 2>&1 && return 0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || fail "$2 exited before its iperf3 answered"; done
    sleep 1
  done
  fail "$2: no iperf3 in the guest after 300 s"
}
start_vessel 0 off vessel; start_qemu 1 off; start_qemu 2 on; start_vessel 3 on vessel_vhost
wait_server 0 vessel-vmm; wait_server 1 qemu; wait_server 2 qemu+vhost; wait_server 3 vessel-vmm+vhost
# The vhost VM must really be on vhost-net (and the other on the userspace path).
for s in vessel:userspace vessel_vhost:vhost; do
  got=$(curl -s -m 5 --unix-socket $D/${s%%:*}.sock http://localhost/metrics |
        python3 -c 'import json,sys; print([d for d in json.load(sys.stdin)["devices"] if d["device"] == "virtio-net"][0]["backend"])') ||
    fail "${s%%:*}: no metrics"
  [ "$got" = "${s#*:}" ] || fail "${s%%:*}: virtio-net backend is $got, not ${s#*:}"
done
echo "# guests up; $ROUNDS rounds, iperf3 5 s each way, 1 vCPU and 256 MiB per VM"

gbps() { python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'; }
# A stalled transfer must not hang the run: iperf3 has no overall deadline of its own, and on
# SIGTERM it still talks to the (stalled) server, so SIGKILL 5 s later.
tcp() { timeout -k 5 60 iperf3 -c 10.199.$1.2 -t 5 -J $2 > $D/iperf.json || fail "iperf3 -c 10.199.$1.2 $2: $(tail -3 $D/iperf.json)"; gbps < $D/iperf.json; }
NAMES=(vessel qemu qemu_vhost vessel_vhost)
for r in $(seq $ROUNDS); do
  for i in 0 1 2 3; do
    to=$(tcp $i "") && from=$(tcp $i -R) || exit 1
    echo "${NAMES[$i]} $r host_to_guest=$to guest_to_host=$from" | tee -a $D/results
  done
done
median() { grep "^$1 " $D/results | sed "s/.* $2=\([0-9.]*\).*/\1/" | sort -g | awk '{a[NR]=$1} END {print NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for k in host_to_guest guest_to_host; do
  v=$(median vessel $k) q=$(median qemu $k) h=$(median qemu_vhost $k) x=$(median vessel_vhost $k)
  ratio() { awk -v a=$1 -v b=$2 'BEGIN {printf "%.2f", a / b}'; }
  echo "$k (Gbit/s): vessel $v, qemu $q, qemu+vhost $h, vessel+vhost $x; vessel / qemu = x$(ratio $v $q), vessel / qemu+vhost = x$(ratio $v $h), vessel+vhost / qemu+vhost = x$(ratio $x $h)"
done
