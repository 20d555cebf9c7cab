// libsystemd's sd-bus, loaded with dlopen the first time the systemd cgroup driver needs it: the
// runtime is not linked against libsystemd, so the cgroupfs path (every container not run with
// --systemd-cgroup) loads none of it and its dependencies (libgcrypt, liblzma, libzstd, liblz4).
// The prototypes come from <systemd/sd-bus.h> (libsystemd-dev), so every call is type-checked.
#pragma once

#include <systemd/sd-bus.h>

#include "base/error.h"

namespace vessel::runtime {

#define VESSEL_SD_BUS_FUNCTIONS(X)                                                                          \
  X(sd_bus_new) X(sd_bus_set_address) X(sd_bus_start) X(sd_bus_open_system) X(sd_bus_flush_close_unref)   \
  X(sd_bus_message_new_method_call) X(sd_bus_message_append) X(sd_bus_message_append_basic)               \
  X(sd_bus_message_append_array) X(sd_bus_message_open_container) X(sd_bus_message_close_container)       \
  X(sd_bus_message_read) X(sd_bus_message_unref) X(sd_bus_call) X(sd_bus_match_signal) X(sd_bus_slot_unref) \
  X(sd_bus_process) X(sd_bus_wait) X(sd_bus_error_free) X(sd_bus_error_has_name)

struct SdBusLibrary {
#define VESSEL_SD_BUS_MEMBER(f) decltype(&::f) f = nullptr;
  VESSEL_SD_BUS_FUNCTIONS(VESSEL_SD_BUS_MEMBER)
#undef VESSEL_SD_BUS_MEMBER
};

// libsystemd.so.0 with every function above, loaded once per process.
Result<const SdBusLibrary*> sd_bus_library();

}  // namespace vessel::runtime
