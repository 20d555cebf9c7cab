// Slow: the default Linux guest (guest/build-default-guest.sh) booted by `vessel run --vm`, its
// command's output followed to the end, the VM marked stopped after the guest powers off.
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

std::string vmm() {
  const char* env = ::getenv("VESSEL_TEST_VMM");
  return env && *env ? env : VESSEL_VMM_PATH;
}

TEST(LinuxGuest, RunsACommandAndPowersOff) {
  const char* env = ::getenv("VESSEL_TEST_DEFAULT_GUEST_DIR");
  std::string dir = env && *env ? env : VESSEL_DEFAULT_GUEST_DIR;
  std::string kernel = dir + "/vmlinux";
  if (::access(kernel.c_str(), R_OK) != 0) kernel = dir + "/vmlinuz";
  ASSERT_EQ(::access(kernel.c_str(), R_OK), 0) << "build the default guest first (ninja default_guest)";
  ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm();
  std::ifstream cmdline_file(dir + "/cmdline");
  std::string boot_args;
  ASSERT_TRUE(std::getline(cmdline_file, boot_args)) << "the default guest has no cmdline file: rebuild it";
  TempDir tmp;
  Daemon daemon(tmp.path, {"--vmm", vmm()});
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto image = daemon.vessel({"image", "import", "--vm", "--name", "linux", "--kernel", kernel, "--initramfs",
                              dir + "/initramfs.cpio", "--cmdline", boot_args + " quiet -- echo hello-from-linux"});
  ASSERT_EQ(image.status, 0) << image.err;
  auto r = run({vessel_path(), "--socket", daemon.socket(), "run", "--vm", "--attach", "--name", "linux", "--memory", "512M", "linux"},
               std::chrono::seconds(2400));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("hello-from-linux"), std::string::npos) << r.out.substr(r.out.size() > 4000 ? r.out.size() - 4000 : 0);
  EXPECT_NE(r.out.find("command exited with status 0"), std::string::npos);
  EXPECT_EQ(daemon.vessel_json({"inspect", "linux"}).value("state", ""), "stopped");
}

}  // namespace
}  // namespace vessel::test
