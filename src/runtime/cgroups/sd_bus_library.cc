#include "runtime/cgroups/sd_bus_library.h"

#include <dlfcn.h>

#include "runtime/spec/spec.h"

namespace vessel::runtime {

namespace {

constexpr const char* kLibsystemd = "libsystemd.so.0";

Result<SdBusLibrary> load() {
  void* handle = dlopen(kLibsystemd, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return hinted(fail(ENOENT, "--systemd-cgroup: cannot load {}: {}", kLibsystemd, why ? why : "unknown error"),
                  "install libsystemd0, or use the cgroupfs driver (no --systemd-cgroup)");
  }
  SdBusLibrary lib;
  const char* missing = nullptr;
#define VESSEL_SD_BUS_RESOLVE(f)                                       \
  lib.f = reinterpret_cast<decltype(lib.f)>(dlsym(handle, #f));        \
  if (!lib.f && !missing) missing = #f;
  VESSEL_SD_BUS_FUNCTIONS(VESSEL_SD_BUS_RESOLVE)
#undef VESSEL_SD_BUS_RESOLVE
  // The handle stays open: the table points into it for the life of the process.
  if (missing) return fail(ENOSYS, "--systemd-cgroup: {} has no {} (it is too old for the systemd cgroup driver)", kLibsystemd, missing);
  return lib;
}

}  // namespace

Result<const SdBusLibrary*> sd_bus_library() {
  static const Result<SdBusLibrary> loaded = load();
  if (!loaded) return Unexpected(loaded.error());
  return &*loaded;
}

}  // namespace vessel::runtime
