// Can this host run VMs right now? vessel's host check (src/hostcheck) answers before vesseld
// creates or starts a VM, so that a host without a working KVM refuses at once (409, with the
// host check's reasons and advice) instead of failing deep inside vessel-vmm.
#pragma once

#include "base/error.h"
#include "hostcheck/host_check.h"

namespace vessel::daemon {

// Probes CPUID and /dev/kvm (opens it and creates an empty VM: cheap enough for every start);
// nothing is cached, so loading a KVM module takes effect without restarting vesseld.
Result<void> check_vm_host();

// The error for a host check whose verdict is that VMs cannot run: ENODEV (answered 409), the
// problems in the message, the advice in the hint.
Error vm_host_error(const hostcheck::Report& report);

}  // namespace vessel::daemon
