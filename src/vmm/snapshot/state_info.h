// A readable summary of a snapshot's state file (vessel-vmm --snapshot-info): what a user checks
// before loading one, and what a developer needs when a restored VM misbehaves (each vCPU's
// instruction pointer, run state, pending events, LAPIC timer and TSC).
#pragma once

#include "base/json.h"
#include "vmm/snapshot/machine_state.h"

namespace vessel::vmm::snapshot {

json::Json describe(const MachineState& state);

}  // namespace vessel::vmm::snapshot
