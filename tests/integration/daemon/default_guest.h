// The default Linux guest (guest/build-default-guest.sh) for the daemon's slow tests: where its
// kernel, initramfs and command line are (VESSEL_TEST_DEFAULT_GUEST_DIR overrides the build's),
// and an image of it with a command. The including target defines VESSEL_DEFAULT_GUEST_DIR and
// VESSEL_VMM_PATH.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "daemon_fixture.h"

namespace vessel::test {

inline std::string default_guest_vmm() {
  const char* env = ::getenv("VESSEL_TEST_VMM");
  return env && *env ? env : VESSEL_VMM_PATH;
}

struct DefaultGuest {
  std::string dir, kernel, boot_args;
};

inline void find_default_guest(DefaultGuest& g) {
  const char* env = ::getenv("VESSEL_TEST_DEFAULT_GUEST_DIR");
  g.dir = env && *env ? env : VESSEL_DEFAULT_GUEST_DIR;
  g.kernel = g.dir + "/vmlinux";
  if (::access(g.kernel.c_str(), R_OK) != 0) g.kernel = g.dir + "/vmlinuz";
  ASSERT_EQ(::access(g.kernel.c_str(), R_OK), 0) << "build the default guest first (ninja default_guest)";
  ASSERT_EQ(::access(default_guest_vmm().c_str(), X_OK), 0) << default_guest_vmm();
  std::ifstream cmdline_file(g.dir + "/cmdline");
  ASSERT_TRUE(std::getline(cmdline_file, g.boot_args)) << "the default guest has no cmdline file: rebuild it";
}

// The image `name` (default "linux"): the default guest running `command`.
inline void import_default_guest(Daemon& daemon, const DefaultGuest& g, const std::string& command,
                                 const std::string& name = "linux") {
  auto image = daemon.vessel({"image", "import", "--vm", "--name", name, "--kernel", g.kernel, "--initramfs",
                              g.dir + "/initramfs.cpio", "--cmdline", g.boot_args + " quiet -- " + command});
  ASSERT_EQ(image.status, 0) << image.err;
}

// A stock kernel's ring-0 code is emulated on PVM hosts: the boot takes many minutes there; with
// hardware KVM it takes under a second, in the nested TCG host ~15 s.
inline bool on_pvm() { return ::access("/sys/module/kvm_pvm", F_OK) == 0; }

}  // namespace vessel::test
