// CVE-2019-5736: a container process must never be able to open the runtime binary for writing
// through /proc/PID/exe. Before entering a container we re-execute ourselves from a sealed,
// read-only memfd copy; the on-disk binary is then never the one mapped inside the container.
#pragma once

#include "base/error.h"

namespace vessel::runtime {

// Re-executes from a sealed copy; returns when already running from one, or an error (the
// caller must then not start a container process).
Result<void> ensure_sealed_self(char** argv);
// Is the running binary a sealed memfd?
bool running_from_sealed_copy();

}  // namespace vessel::runtime
