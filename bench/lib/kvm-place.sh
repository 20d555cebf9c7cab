# shellcheck shell=bash
# Sourced by the VM benchmarks (bench/vmm/bench.sh, bench/virtio/run.sh, bench/virtio/run_qd.sh):
# decides where they run, and says so in their output.
#
#   bench_kvm_place BUILD SCRIPT [ARGS...]
#
# - Inside the nested KVM host (VESSEL_IN_KVM_HOST=1): returns, after printing where the figures
#   are taken.
# - VESSEL_BENCH_NESTED=1 (the scripts' --nested sets it), or auto (unset) when this machine's
#   KVM cannot run VMs (`vessel host check`; without a built CLI, no usable /dev/kvm): runs
#   SCRIPT ARGS... again inside scripts/kvm-host, peers and vessel in the same nested host, prints
#   this machine's load before and after, and exits with the script's status.
# - VESSEL_BENCH_NESTED=0, or auto where KVM can run VMs: returns; the benchmark runs here.
# VESSEL_BENCH_NESTED_MEM: memory of the nested host in MiB (default 2048).

bench_kvm_unusable() {  # prints why VMs cannot run on this machine's /dev/kvm; nothing if they can
  local vessel=$1/src/cli/vessel
  if [[ -x $vessel ]]; then
    # host check exits 1 when VMs (or containers) cannot run: only its JSON counts here.
    { "$vessel" host check --json 2>/dev/null || true; } | python3 -c '
import json, sys
try:
    vms = json.load(sys.stdin)["vms"]
except Exception as e:
    print("vessel host check gave no answer (%s)" % e); sys.exit(0)
if not vms["ok"]:
    print("vessel host check: VMs cannot run here: " + ("; ".join(vms["problems"]) or "no reason given"))'
  elif [[ ! -c /dev/kvm ]]; then
    echo "no /dev/kvm here"
  elif [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
    echo "/dev/kvm is not readable and writable"
  fi
}

bench_kvm_flavour() {  # the KVM module that serves /dev/kvm here
  local m
  for m in kvm_pvm kvm_amd kvm_intel; do
    [[ -d /sys/module/$m ]] && { echo "$m"; return; }
  done
  echo "unknown"
}

bench_kvm_place() {
  local build=$1; shift
  local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  if [[ ${VESSEL_IN_KVM_HOST:-} == 1 ]]; then
    echo "== where: the nested KVM host (scripts/kvm-host): Linux $(uname -r) under QEMU's software CPU"
    echo "   (TCG, AMD-V and nested paging emulated), $(nproc) vCPU, /dev/kvm of flavour $(bench_kvm_flavour);"
    echo "   vessel and its peer run in this same host. Every instruction here is emulated, the VMMs' own"
    echo "   included: absolute times are NOT hardware times; compare the ratios."
    echo "== load inside the nested host: $(cut -d' ' -f1-3 /proc/loadavg)"
    return 0
  fi
  local want=${VESSEL_BENCH_NESTED:-auto} why=""
  case $want in
    1|yes|nested) why="asked for (--nested or VESSEL_BENCH_NESTED=1)";;
    0|no|direct) why="";;
    auto) why=$(bench_kvm_unusable "$build");;
    *) echo "VESSEL_BENCH_NESTED must be 1 (nested KVM host), 0 (here) or unset (auto), not '$want'" >&2
       exit 2;;
  esac
  if [[ -z $why ]]; then
    echo "== where: this machine, /dev/kvm of flavour $(bench_kvm_flavour)$([[ -d /sys/module/kvm_pvm ]] &&
      echo ' (PVM: guest ring-0 code is emulated; times are not those of hardware-assisted KVM)')"
    echo "== load: $(uptime)"
    return 0
  fi
  echo "== where: the nested KVM host (scripts/kvm-host): $why"
  echo "== load on this machine before: $(uptime)"
  local rc=0
  # The source tree and the build are shared read-write: /tmp and friends are fresh inside.
  VESSEL_BENCH_NESTED=1 "$root/scripts/kvm-host" --rw "$root" --rw "$build" --mem "${VESSEL_BENCH_NESTED_MEM:-2048}" \
    --timeout 3000 --idle 1200 -- "$@" || rc=$?
  echo "== load on this machine after: $(uptime)"
  ((rc == 0)) || echo "== FAILED: the benchmark in the nested KVM host exited with status $rc" >&2
  exit "$rc"
}
