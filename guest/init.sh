#!/bin/busybox sh
# /init of vessel's default guest: load the virtio drivers, mount the basic filesystems, then run
# the command given after "--" on the kernel command line (default: a shell on the console).
# When the command ends, the guest powers off, so `vessel-vmm` exits with status 0. Ctrl+Alt+Del
# (`vessel stop`, SIGTERM to vessel-vmm) reaches init as SIGINT: the command gets SIGTERM, and
# the guest powers off the same way.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
# Ctrl+Alt+Del as a signal to init (as every init does), not the kernel's immediate restart.
echo 0 > /proc/sys/kernel/ctrl-alt-del
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null || /bin/busybox mdev -s
/bin/busybox mkdir -p /dev/pts
/bin/busybox mount -t devpts devpts /dev/pts
/bin/busybox mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

# Modules in dependency order (written by the builder); a driver that is built in is not listed.
# The core set (virtio-mmio, block, entropy) always; others when the kernel command line asks:
# vessel.modules=ext4,vsock (with their dependencies) or vessel.modules=all.
wanted=""
for w in $(sed -n 's/.*vessel\.modules=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' '); do
  wanted="$wanted $w $(sed -n "s/^$(echo "$w" | tr - _) //p" /etc/modules.deps)"
done
# A network (docs/daemon/networks.md): vesseld puts ip=CLIENT::GATEWAY:NETMASK::eth0:off on the
# kernel command line (before " -- "); then virtio_net is loaded and eth0 configured below.
# vessel-net-begin
# Prints "CLIENT/PREFIX GATEWAY DEVICE" for the first ip= of the command line $1, nothing without one.
ip_config() {
  for word in $1; do
    [ "$word" = "--" ] && return 0
    case "$word" in ip=*) ;; *) continue ;; esac
    old_ifs=$IFS
    IFS=:
    set -- ${word#ip=}
    IFS=$old_ifs
    client=$1 gw=$3 mask=$4 dev=${6:-eth0}
    [ -n "$client" ] && [ -n "$mask" ] || return 0
    prefix=0 ended=0
    IFS=.
    for octet in $mask; do
      # Contiguous: after an octet below 255, only zeros.
      [ "$ended" = 1 ] && [ "$octet" != 0 ] && { IFS=$old_ifs; return 1; }
      [ "$octet" = 255 ] || ended=1
      case "$octet" in
        255) prefix=$((prefix + 8)) ;; 254) prefix=$((prefix + 7)) ;; 252) prefix=$((prefix + 6)) ;;
        248) prefix=$((prefix + 5)) ;; 240) prefix=$((prefix + 4)) ;; 224) prefix=$((prefix + 3)) ;;
        192) prefix=$((prefix + 2)) ;; 128) prefix=$((prefix + 1)) ;; 0) ;;
        *) IFS=$old_ifs; return 1 ;;
      esac
    done
    IFS=$old_ifs
    echo "$client/$prefix $gw $dev"
    return 0
  done
}
# vessel-net-end
# Volumes (docs/daemon/volumes.md#vms): vesseld attaches each as a virtio-blk disk whose serial is
# its drive id and writes vessel.volumes=ID:TARGET[:ro],... on the command line: ext4 is needed.
volumes=$(sed -n 's/.*vessel\.volumes=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
[ -n "$volumes" ] && wanted="$wanted crc32c_generic ext4 $(sed -n "s/^ext4 //p" /etc/modules.deps)"
netconf=$(ip_config "$(cat /proc/cmdline)")
[ -n "$netconf" ] && wanted="$wanted virtio_net $(sed -n "s/^virtio_net //p" /etc/modules.deps)"
load_all=0
for w in $wanted; do [ "$w" = all ] && load_all=1; done
while read -r mod; do
  [ -n "$mod" ] || continue
  name=${mod%.ko}
  load=$load_all
  grep -qx "$mod" /etc/modules.core && load=1
  for w in $wanted; do [ "$w" = "$name" ] && load=1; done
  [ "$load" = 1 ] && insmod "/lib/modules/$mod" 2>/dev/null
done < /etc/modules.order

if [ -n "$netconf" ]; then
  set -- $netconf
  ip link set lo up
  if ip link set "$3" up && ip addr add "$1" dev "$3" && { [ -z "$2" ] || ip route add default via "$2"; }; then
    [ -n "$2" ] && echo "nameserver $2" > /etc/resolv.conf  # vesseld's DNS server on the gateway
    echo "vessel-guest: $3 $1 via ${2:-none}"
  else
    echo "vessel-guest: cannot configure $3 as $1"
  fi
  set --
fi

for v in $volumes; do
  id=${v%%:*} rest=${v#*:}
  target=${rest%:ro} mode=rw
  [ "$target" != "$rest" ] && mode=ro
  dev=""
  for serial in /sys/block/vd*/serial; do
    [ "$(cat "$serial" 2>/dev/null)" = "$id" ] && dev=/dev/${serial#/sys/block/} && dev=${dev%/serial}
  done
  if [ -n "$dev" ] && mkdir -p "$target" && mount -t ext4 -o "$mode" "$dev" "$target"; then
    echo "vessel-guest: volume $id ($dev) on $target ($mode)"
  else
    echo "vessel-guest: cannot mount volume $id on $target"
  fi
done

# virtio-balloon (docs/vmm/balloon.md): its driver when the VM has the device (virtio id 0x0005).
if grep -qx 0x0005 /sys/bus/virtio/devices/*/device 2>/dev/null; then
  for m in $(sed -n 's/^virtio_balloon //p' /etc/modules.deps); do
    insmod "/lib/modules/$m.ko" 2>/dev/null
  done
fi

# The IB700 watchdog (docs/vmm/watchdog.md): vesseld puts vessel.watchdog on the command line when
# the VM has one (the board cannot be probed). busybox's watchdog daemon pets it every 5 s with
# the longest timeout, 30 s: when the guest's kernel or its user space hangs, the pets stop and
# vessel-vmm acts.
if grep -q 'vessel\.watchdog' /proc/cmdline; then
  for m in $(sed -n 's/^ib700wdt //p' /etc/modules.deps); do
    insmod "/lib/modules/$m.ko" 2>/dev/null
  done
  watchdog -T 30 -t 5 /dev/watchdog && echo "vessel-guest: watchdog petted every 5 s (30 s timeout)"
fi

# vessel-agent (docs/vmm/agent.md): with a virtio-vsock device (virtio id 0x0013), load the vsock
# modules and start the agent in the background on vsock port 1024.
if [ -x /bin/vessel-agent ] && grep -qx 0x0013 /sys/bus/virtio/devices/*/device 2>/dev/null; then
  for m in $(sed -n 's/^vmw_vsock_virtio_transport //p' /etc/modules.deps); do
    insmod "/lib/modules/$m.ko" 2>/dev/null
  done
  /bin/vessel-agent </dev/null 2>/dev/console &
fi

echo "vessel-guest: up, $(grep -c ^processor /proc/cpuinfo) cpus, $(awk '/MemTotal/ {print $2}' /proc/meminfo) kB"

# The command is what follows the first " -- " of the kernel command line, read from /proc/cmdline:
# our own arguments also carry kernel parameters the kernel did not recognise (it hands those to
# init first, e.g. an early-only "noxsave"), which must not become part of the command.
kcmdline=$(cat /proc/cmdline)
command=""
case "$kcmdline" in *" -- "*) command="${kcmdline#* -- }" ;; esac
# The shell defers a trap until its foreground child ends, so the command runs in the background
# (with the console as its stdin, which `&` would replace by /dev/null) and init waits for it.
child=""
stopping=0
on_ctrl_alt_del() {
  stopping=1
  echo "vessel-guest: Ctrl+Alt+Del: stopping"
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap on_ctrl_alt_del INT
exec 3<&0
if [ -n "$command" ]; then
  sh -c "$command" <&3 3<&- &
else
  setsid cttyhack sh <&3 3<&- &
fi
child=$!
# wait returns early (status > 128) when the trap runs: give the command 10 s to end, then kill it.
wait "$child"
status=$?
if [ "$stopping" = 1 ]; then
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 "$child" 2>/dev/null || break
    sleep 1
  done
  kill -KILL "$child" 2>/dev/null
  wait "$child"
  status=$?
fi
[ -n "$command" ] && echo "vessel-guest: command exited with status $status"
sync
for v in $volumes; do  # clean file systems for the next VM that mounts them
  t=${v#*:}
  umount "${t%:ro}" 2>/dev/null
done
poweroff -f
