#include "vmm/vm_event.h"

namespace vessel::vmm {

const char* to_string(VmEvent::Kind kind) {
  switch (kind) {
    case VmEvent::Kind::Poweroff: return "poweroff";
    case VmEvent::Kind::Reboot: return "reboot";
    case VmEvent::Kind::DebugExit: return "debug-exit";
    case VmEvent::Kind::Panic: return "panic";
    case VmEvent::Kind::Error: return "error";
    case VmEvent::Kind::Terminated: return "terminated";
    case VmEvent::Kind::Migrated: return "migrated";
    case VmEvent::Kind::Watchdog: return "watchdog";
  }
  return "unknown";
}

}  // namespace vessel::vmm
