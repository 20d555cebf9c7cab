#!/bin/bash
# podman's own system tests (bats, test/system of podman's source at the tag of Debian's podman,
# v4.3.1) with each runtime given as podman's --runtime, and the counts per runtime. The suite is
# third-party code kept outside the repository: point PODMAN_SRC at a checkout, e.g.
#   git -C podman archive v4.3.1 test/system | tar -x -C /tmp/podman-src
# Usage: PODMAN_SRC=/tmp/podman-src podman_system_tests.sh RUNTIME... [-- FILE.bats...]
# Needs bats, podman, busybox-static (scripts/packages.txt). Nothing is pulled: the suite's image
# (quay.io/libpod/testimage:20220615, Alpine with two files) is stood in for by a static busybox
# root with the same files, WORKDIR and CMD, imported under that name into a private store per
# runtime; tests that need the real image, a registry or the network fail for every runtime alike.
# Every runtime runs in a private mount namespace without /sys/fs/cgroup/unified (crun refuses a
# hybrid layout), with cgroupfs and file events. Containers get nofile and nproc 4096: where the
# caller lacks CAP_SYS_RESOURCE, podman's defaults for root (1048576) fail in every runtime.
set -u
SRC=${PODMAN_SRC:?set PODMAN_SRC to a checkout holding test/system}
RUNTIMES=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do RUNTIMES+=("$(readlink -f "$1")"); shift; done
[ "${1:-}" = "--" ] && shift
FILES=("$@")
[ ${#FILES[@]} -gt 0 ] || FILES=(030-run.bats 035-logs.bats 040-ps.bats 045-start.bats 050-stop.bats 055-rm.bats
  075-exec.bats 080-pause.bats 130-kill.bats 160-volumes.bats 190-run-ipcns.bats
  420-cgroups.bats)
[ ${#RUNTIMES[@]} -gt 0 ] || { echo "name at least one runtime" >&2; exit 2; }
present=()
for f in "${FILES[@]}"; do
  if [ -f "$SRC/test/system/$f" ]; then present+=("$f"); else echo "# not in this podman's suite: $f" >&2; fi
done
FILES=("${present[@]}")
W=$(mktemp -d /tmp/podman-system.XXXXXX)
trap 'rm -rf "$W"' EXIT

# The stand-in test image.
R=$W/rootfs
mkdir -p "$R"/{bin,etc,home/podman,tmp,proc,sys,dev,root,var/tmp}
cp /bin/busybox "$R/bin/"
for a in $("$R/bin/busybox" --list); do [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$R/etc/passwd"
printf 'root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\nnobody:x:65534:\n' >"$R/etc/group"
echo 20220615 >"$R/home/podman/testimage-id"
touch --date=@1600000000 "$R/home/podman/testimage-id"
printf 'echo Confirmed: testimage pause invoked as $0\nwhile :; do\n    sleep 0.1\ndone\n' >"$R/home/podman/pause"
chmod 755 "$R/home/podman/pause"
tar -C "$R" -cf "$W/rootfs.tar" .

printf '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n' >"$W/containers.conf"
cat >"$W/podman" <<WRAP
#!/bin/bash
export CONTAINERS_CONF=$W/containers.conf
exec podman --runtime "\$RUNTIME" --cgroup-manager cgroupfs --events-backend file \\
  --root "$W/store/\$STORE/root" --runroot "$W/store/\$STORE/run" "\$@"
WRAP
chmod +x "$W/podman"

declare -A PASS FAIL
for rt in "${RUNTIMES[@]}"; do
  export RUNTIME=$rt STORE=$(basename "$rt") PODMAN=$W/podman
  "$PODMAN" import --change 'CMD ["/bin/echo","This container is intended for podman CI testing"]' \
    --change 'WORKDIR /home/podman' "$W/rootfs.tar" quay.io/libpod/testimage:20220615 >/dev/null || exit 1
  out=$W/$STORE.tap
  (cd "$SRC/test/system" && unshare -m bash -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec bats --tap "$@"' x "${FILES[@]}") >"$out" 2>&1
  PASS[$rt]=$(grep -c '^ok ' "$out")
  FAIL[$rt]=$(grep -c '^not ok ' "$out")
  grep -E '^(ok|not ok) ' "$out" | sed "s|^|$STORE: |"
done
echo "# files: ${FILES[*]}"
for rt in "${RUNTIMES[@]}"; do echo "# $rt: ${PASS[$rt]} pass, ${FAIL[$rt]} fail (skips count as ok, as bats prints them)"; done
