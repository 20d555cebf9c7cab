# shellcheck shell=bash
# Sourced by the container benchmarks that run podman beside vessel (bench/console): a busybox
# root file system, and podman's configuration for an offline run under a private directory.
#
#   busybox_rootfs DIR APPLET...   DIR/rootfs with busybox and those applets, and DIR/rootfs.tar
#   podman_offline DIR             DIR/containers.conf and DIR/storage.conf: overlay storage under
#                                  DIR, cgroupfs, no network, events to a file (export
#                                  CONTAINERS_CONF and CONTAINERS_STORAGE_CONF to use them)
#   podman_cleanup DIR             removes podman's container `box` and store, what is mounted
#                                  under DIR, and DIR

busybox_rootfs() {
  local dir=$1 a; shift
  mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/tmp"
  cp /bin/busybox "$dir/rootfs/bin/"
  for a in "$@"; do ln -s busybox "$dir/rootfs/bin/$a"; done
  echo 'root:x:0:0:root:/:/bin/sh' > "$dir/rootfs/etc/passwd"; echo 'root:x:0:' > "$dir/rootfs/etc/group"
}

podman_offline() {
  local dir=$1 nproc
  nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] && nproc=32768; [ "$nproc" -gt 32768 ] && nproc=32768
  printf '[storage]\ndriver = "overlay"\nrunroot = "%s/prun"\ngraphroot = "%s/pgraph"\n' "$dir" "$dir" > "$dir/storage.conf"
  printf '[containers]\nnetns = "none"\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s/pevents.log"\ntmp_dir = "%s/ptmp"\n' \
    "$(ulimit -Hn)" "$(ulimit -Hn)" "$nproc" "$nproc" "$dir" "$dir" > "$dir/containers.conf"
}

podman_cleanup() {
  local dir=$1
  podman rm -f -t 0 box >/dev/null 2>&1 || true
  podman system reset -f >/dev/null 2>&1 || true
  grep "$dir" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$dir"
}
