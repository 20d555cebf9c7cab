// CVE-2019-5736: a container process must never be able to open the runtime binary for writing
// through /proc/PID/exe. Before entering a container we re-execute ourselves from a sealed,
// read-only memfd copy; the on-disk binary is then never the one mapped inside the container.
#pragma once

namespace vessel::runtime {

// Returns only on failure (or when already running from a sealed copy).
void ensure_sealed_self(int argc, char** argv);
// Is the running binary a sealed memfd?
bool running_from_sealed_copy();

}  // namespace vessel::runtime
