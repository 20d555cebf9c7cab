// Why a VM stops: what devices and vCPUs report to the machine, which turns it into the VMM
// process's exit status (docs/vmm/README.md, "Exit status").
#pragma once

#include <functional>
#include <string>

namespace vessel::vmm {

struct VmEvent {
  enum class Kind {
    Poweroff,   // ACPI sleep S5, or the guest halted for good: exit 0
    Reboot,     // i8042 reset, ACPI reset register, triple fault: exit 0 (or restart policy)
    DebugExit,  // test guests: port 0xf4 with a code: exit with that code
    Panic,      // the guest kernel panicked (seen on the console): exit 3
    Error,      // the VMM could not continue the VM (emulation failure, KVM error): exit 2
    Terminated, // SIGTERM/SIGINT and the guest did not shut down in time: exit 128 + signal
    Migrated,   // the VM now runs in the vessel-vmm it was migrated to: exit 0
    Watchdog,   // the guest stopped petting its watchdog (action reset or poweroff): exit 4
  };
  Kind kind;
  int code = 0;
  std::string reason;
};

using EventSink = std::function<void(VmEvent)>;

const char* to_string(VmEvent::Kind kind);

}  // namespace vessel::vmm
