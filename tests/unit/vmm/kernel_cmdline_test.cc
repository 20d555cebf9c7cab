// The kernel command line the VMM assembles: added parameters go before the init arguments.
#include "vmm/kernel_cmdline.h"

#include <gtest/gtest.h>

namespace vessel::vmm {
namespace {

TEST(KernelCmdline, AddedParametersFollowTheUsersArguments) {
  KernelCmdline c("console=ttyS0 quiet");
  c.add("virtio_mmio.device=4K@0xd0000000:5");
  EXPECT_EQ(c.str(), "console=ttyS0 quiet virtio_mmio.device=4K@0xd0000000:5");
}

TEST(KernelCmdline, AddedParametersGoBeforeTheInitArguments) {
  KernelCmdline c("console=ttyS0 -- echo hi");
  c.add("root=/dev/vda rw");
  EXPECT_EQ(c.str(), "console=ttyS0 root=/dev/vda rw -- echo hi");
  EXPECT_TRUE(c.mentions("root="));
  EXPECT_FALSE(c.mentions("echo")) << "init's arguments are not the kernel's";
}

TEST(KernelCmdline, EmptyBootArgsGiveNoLeadingSpace) {
  KernelCmdline c("");
  c.add("noxsave");
  EXPECT_EQ(c.str(), "noxsave");
  KernelCmdline only_init("-- sh");
  only_init.add("noxsave");
  EXPECT_EQ(only_init.str(), "noxsave -- sh");
}

}  // namespace
}  // namespace vessel::vmm
