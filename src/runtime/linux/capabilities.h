// Applying the five capability sets of process.capabilities to the calling process.
#pragma once

#include "base/error.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

// Drops the bounding set, then sets effective/permitted/inheritable, then raises ambient.
Result<void> apply_capabilities(const Capabilities& caps);
// Highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap).
int kernel_last_cap();

}  // namespace vessel::runtime
