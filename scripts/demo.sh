#!/usr/bin/env bash
# The main job on the built-in default guest: set up, build, check the host, then through vesseld
# run a busybox container and boot a small VM and the default Linux guest, printing what each
# prints. Where this machine's KVM cannot run VMs (`vessel host check` says why), the VM part runs
# in a nested KVM host that scripts/kvm-host boots under QEMU, and the screen says so; the
# container still runs here. Everything runs under a temporary state directory; nothing is left.
# Usage: scripts/demo.sh [--no-vm] [--nested]
#   --no-vm    the host check, the container and the small VM only (no Linux boot)
#   --nested   run the VM part in the nested KVM host even where this machine can run VMs (on a
#              PVM host the Linux boot then takes seconds instead of ~20 minutes)
#   (--vm-part and --vm-part-small are internal: the VM part alone, inside the nested KVM host)
set -euo pipefail
part=all nested=0
for arg in "$@"; do
  case "$arg" in
    --no-vm) part=no-linux;;
    --nested) nested=1;;
    --vm-part) part=vm;;
    --vm-part-small) part=vm-small;;
    *) echo "usage: scripts/demo.sh [--no-vm] [--nested]" >&2; exit 2;;
  esac
done
vm_minutes=${VESSEL_DEMO_VM_MINUTES:-45}
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
bin="$top/build"
vessel="$bin/src/cli/vessel"
guest="$bin/guest"

if [[ $part != vm* ]]; then
  step "set-up (Debian packages)"
  "$top/scripts/setup.sh"

  step "build (the first build takes several minutes on 2 cores)"
  "$top/scripts/build.sh" vessel vesseld vessel-vmm vessel-runtime vessel-shim vessel-init default_guest test_guests | tail -1
fi

step "vessel host check${VESSEL_IN_KVM_HOST:+ (inside the nested KVM host)}"
"$vessel" host check || true
verdict() { { "$vessel" host check --json || true; } | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
[[ $(verdict 'j["containers"]["ok"]') == True ]] || { echo "demo: this host cannot run containers (see above)" >&2; exit 1; }
vms_here=$(verdict 'j["vms"]["ok"]')
flavour=$(verdict 'j["kvm_flavour"]')

work=$(mktemp -d /tmp/vessel-demo.XXXXXX)
sock="$work/vessel.sock"
cleanup() {
  "$vessel" --socket "$sock" rm -f demo-vm demo-small demo-ct >/dev/null 2>&1 || true
  [[ -n "${daemon:-}" ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step "start vesseld (state in $work)"
"$bin/src/daemon/vesseld" --socket "$sock" --state-dir "$work/state" --log-level warn &
daemon=$!
for _ in $(seq 100); do [[ -S "$sock" ]] && break; sleep 0.1; done
export VESSEL_SOCKET="$sock"
instance_state() {
  "$vessel" ls --json | python3 -c 'import json,sys; print(next((i["state"] for i in json.load(sys.stdin) if i["name"]==sys.argv[1]), "gone"))' "$1"
}

container_part() {
  step "container: busybox rootfs, echo and ps"
  local rootfs="$work/rootfs" t0
  mkdir -p "$rootfs/bin"
  cp /bin/busybox "$rootfs/bin/busybox"
  chroot "$rootfs" /bin/busybox --install -s /bin
  mkdir -p "$rootfs"/{proc,sys,dev,tmp,etc}
  t0=$(date +%s%N)
  "$vessel" run --name demo-ct --rootfs "$rootfs" -- /bin/sh -c 'echo hello from the container; echo "pid $$ in its own namespace"; hostname' >/dev/null
  timeout 10 "$vessel" wait demo-ct >/dev/null || true
  echo "container ran in $(( ($(date +%s%N) - t0) / 1000000 )) ms; its output:"
  "$vessel" logs demo-ct
  [[ $("$vessel" logs demo-ct) == *"hello from the container"* ]] || { echo "demo: the container did not run" >&2; failed=1; }
}

small_vm_part() {
  step "VM: a small test-kit guest (PVH ELF, 2 vCPUs), from start to poweroff"
  local t0; t0=$(date +%s%N)
  "$vessel" run --vm --name demo-small --cpus 2 -m 64M --kernel "$bin/tests/guests/hello.elf" >/dev/null
  timeout 60 "$vessel" wait demo-small >/dev/null || true
  echo "VM ran in $(( ($(date +%s%N) - t0) / 1000000 )) ms; its console:"
  "$vessel" logs demo-small
  [[ "$(instance_state demo-small)" == stopped ]] || { echo "demo: the small VM did not stop" >&2; failed=1; }
}

linux_vm_part() {
  step "VM: Debian's kernel with the default initramfs, 2 vCPUs, 512 MiB"
  if [[ "$flavour" == kvm_pvm ]]; then
    echo "note: this host's KVM is PVM (software nested): the guest kernel's ring-0 code is emulated"
    echo "      instruction by instruction, so this Linux boot takes many minutes (limit: ${vm_minutes} min,"
    echo "      VESSEL_DEMO_VM_MINUTES). The console follows with the elapsed time; on VT-x/AMD-V"
    echo "      hardware the same boot takes well under a second; scripts/demo.sh --nested boots it in a"
    echo "      nested KVM host in about a minute."
  fi
  local start beat vm_state
  start=$(date +%s)
  "$vessel" run --vm --name demo-vm --cpus 2 -m 512M \
    --kernel "$guest/vmlinux" --initramfs "$guest/initramfs.cpio" \
    --cmdline "$(cat "$guest/cmdline") -- echo hello from the VM; uname -r; grep -c ^processor /proc/cpuinfo" >/dev/null
  # Console lines with the elapsed time, and a heartbeat while the kernel is quiet.
  ( while sleep 30; do echo "   ... $(( $(date +%s) - start ))s elapsed, still booting"; done ) &
  beat=$!
  timeout "$(( vm_minutes * 60 ))" "$vessel" logs -f demo-vm |
    while IFS= read -r line; do printf '[%5ss] %s\n' "$(( $(date +%s) - start ))" "$line"; done || true
  kill "$beat" 2>/dev/null || true
  vm_state=$(instance_state demo-vm)
  echo "VM state after $(( $(date +%s) - start )) s: $vm_state"
  if [[ "$vm_state" != stopped ]]; then
    echo "demo: the VM did not finish within ${vm_minutes} min; stopping it" >&2
    "$vessel" stop -f demo-vm >/dev/null 2>&1 || true
    failed=1
  elif [[ $("$vessel" logs demo-vm) != *"hello from the VM"* ]]; then
    echo "demo: the Linux guest stopped before running its command (see the console above)" >&2
    failed=1
  fi
}

failed=0
[[ $part != vm* ]] && container_part
if [[ $part == vm* || ($vms_here == True && $nested == 0) ]]; then
  small_vm_part
  [[ $part == all || $part == vm ]] && linux_vm_part
else
  if [[ $vms_here == True ]]; then
    step "VMs: in a nested KVM host, as asked (--nested)"
  else
    step "VMs: in a nested KVM host, because this machine's KVM cannot run them"
    verdict '"\n".join("  - " + p for p in j["vms"]["problems"])'
  fi
  echo "scripts/kvm-host boots Debian's kernel under QEMU's software CPU with AMD-V emulated; its"
  echo "kvm_amd gives a real /dev/kvm, and vesseld and vessel-vmm run there. Everything in it runs"
  echo "at emulation speed: times there are not hardware times."
  vm_args=(--vm-part)
  [[ $part == no-linux ]] && vm_args=(--vm-part-small)
  "$top/scripts/kvm-host" --rw "$top" --label nested --timeout $(( vm_minutes * 60 + 300 )) -- "$0" "${vm_args[@]}" || failed=1
fi

step "done"
[[ $failed == 0 ]]
