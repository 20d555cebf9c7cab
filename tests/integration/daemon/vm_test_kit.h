// What the daemon's VM tests run: a test-kit guest and the vessel-vmm under test, each with the
// environment override scripts/kvm-tests sets in nested hosts (VESSEL_TEST_GUEST_DIR,
// VESSEL_TEST_VMM). The including target defines VESSEL_VMM_PATH and links vessel_test_guests.
#pragma once

#include <stdlib.h>

#include <string>
#include <vector>

#include "test_guests.h"

namespace vessel::test {

inline std::string guest(const char* name) {
  const char* dir = ::getenv("VESSEL_TEST_GUEST_DIR");
  return std::string(dir && *dir ? dir : VESSEL_TEST_GUEST_DIR) + "/" + name + ".elf";
}

inline std::string vmm() {
  const char* env = ::getenv("VESSEL_TEST_VMM");
  return env && *env ? env : VESSEL_VMM_PATH;
}

// The flags of a second vesseld running VMs beside a first one (migration, backups): its own
// cgroup parent and its own range of VM uids.
inline std::vector<std::string> second_vm_daemon_flags(const std::string& cgroup_parent) {
  return {"--vmm", vmm(), "--cgroup-parent", cgroup_parent, "--jailer-uid-base", "960000"};
}

}  // namespace vessel::test
