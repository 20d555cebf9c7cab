#!/bin/sh
# A manual end-to-end check of virtio-net with Linux's own driver (not in ctest: a stock Linux
# boot needs hardware KVM or the nested KVM host). Debian's kernel (the default guest, built by
# the default_guest target) over a real tap: the guest configures eth0 with busybox ip, pings the
# host, downloads 8 MiB over HTTP (rx) and uploads it back with nc (tx); the host compares the
# SHA-256 sums and prints the device's metrics. Root; makes tap vt0 and 172.30.0.0/24, so run it
# in a throw-away host:
#   scripts/kvm-host --timeout 600 -- tests/integration/virtio/net_linux_e2e.sh "$PWD/build"
# VHOST=on|off|auto (default auto) sets the interface's "vhost" (docs/vmm/net.md, "vhost-net").
set -e
VHOST=${VHOST:-auto}
B=$(realpath "${1:-build}")
D=$(mktemp -d /tmp/net-e2e-XXXXXX)
ip tuntap add dev vt0 mode tap
ip addr add 172.30.0.1/24 dev vt0
ip link set vt0 up
dd if=/dev/urandom of=$D/big bs=1M count=8 2>/dev/null
sha=$(sha256sum $D/big | cut -d' ' -f1)
(cd $D && busybox httpd -f -p 172.30.0.1:8000 -h $D) &
HTTPD=$!
python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('172.30.0.1', 9000)); s.listen(1)
c, _ = s.accept(); f = open('$D/upload', 'wb')
while True:
    b = c.recv(1 << 16)
    if not b: break
    f.write(b)
" &
NC=$!
GCMD="ip link set eth0 up && ip addr add 172.30.0.2/24 dev eth0 && ping -c 3 172.30.0.1 && wget -q -O /tmp/big http://172.30.0.1:8000/big && sha256sum /tmp/big && nc 172.30.0.1 9000 < /tmp/big; echo guest-net-done"
cat > $D/vm.json <<JSON
{"boot-source": {"kernel_image_path": "$B/guest/vmlinux", "initrd_path": "$B/guest/initramfs.cpio",
  "boot_args": "$(cat $B/guest/cmdline) vessel.modules=virtio_net -- sh -c \\"$GCMD\\""},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "vt0", "guest_mac": "06:00:ac:1e:00:02", "vhost": "$VHOST"}]}
JSON
set +e
timeout 300 $B/src/vmm/vessel-vmm --config-file $D/vm.json --metrics-file $D/metrics.json > $D/console.txt 2>&1
echo "vessel-vmm exit: $?"
sleep 1
kill $HTTPD $NC 2>/dev/null
grep -E "bytes from|packet loss|guest-net-done|big|virtio_net|eth0" $D/console.txt | head -20
echo "host sha:   $sha"
up=$(sha256sum $D/upload | cut -d' ' -f1)
echo "upload sha: $up ($(stat -c %s $D/upload) bytes)"
python3 -c "
import json; m=json.load(open('$D/metrics.json'))
n=[d for d in m['devices'] if d['device']=='virtio-net'][0]
print(json.dumps({k: n[k] for k in ('backend','vhost','rx','tx','guest_errors','backend_errors','needs_reset','notifications','interrupts') if k in n}))"
ip link del vt0
[ "$up" = "$sha" ] && grep -q "$sha  /tmp/big" $D/console.txt && grep -q "0% packet loss" $D/console.txt
