// A VM on a bridge network: the tap's name, MAC and the kernel's ip= vesseld produces, the
// network-interfaces body for vessel-vmm, the command line it boots with, and the default
// guest's /init reading that ip= back (its parser run under busybox sh).
#include <gtest/gtest.h>

#include "base/fd.h"
#include "base/process.h"
#include "daemon/instances/vm_backend.h"
#include "daemon/network/vm_nic.h"

namespace vessel::daemon {
namespace {

Ipv4 ipv4(const char* s) { return *parse_ipv4(s); }

TEST(VmNic, MacIpArgAndNetworkInterface) {
  auto nic = vm_nic("vx1234abcd", "vessel0", ipv4("10.88.0.2"), ipv4("10.88.0.1"), 16);
  EXPECT_EQ(nic.mac, "06:00:0a:58:00:02");
  EXPECT_EQ(nic.ip_arg, "ip=10.88.0.2::10.88.0.1:255.255.0.0::eth0:off");
  auto j = vm_network_interface(nic);
  EXPECT_EQ(j.dump(), R"({"guest_mac":"06:00:0a:58:00:02","host_dev_name":"vx1234abcd","iface_id":"eth0"})");
}

TEST(VmNic, TheIpArgGoesBeforeTheGuestCommand) {
  EXPECT_EQ(with_kernel_arg("", "ip=x"), "ip=x");
  EXPECT_EQ(with_kernel_arg("console=ttyS0", "ip=x"), "console=ttyS0 ip=x");
  EXPECT_EQ(with_kernel_arg("console=ttyS0 -- echo ip", "ip=x"), "console=ttyS0 ip=x -- echo ip");
  EXPECT_EQ(with_kernel_arg("-- sh", "ip=x"), "ip=x -- sh");
}

TEST(VmNic, VmmConfigCarriesTheAddressOnTheCommandLine) {
  InstanceSpec spec;
  spec.name = "vm1";
  spec.type = InstanceType::Vm;
  BootSource boot;
  boot.kernel = "/images/vmlinuz";
  boot.cmdline = "console=ttyS0 -- /bin/httpd -f";
  auto plain = vmm_config(spec, boot);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->boot_source->boot_args, "console=ttyS0 -- /bin/httpd -f");
  auto nic = vm_nic("vx1", "vbr-1", ipv4("10.89.0.3"), ipv4("10.89.0.1"), 24);
  auto c = vmm_config(spec, boot, nic);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->boot_source->boot_args, "console=ttyS0 ip=10.89.0.3::10.89.0.1:255.255.255.0::eth0:off -- /bin/httpd -f");
}

// --watchdog: the VM gets an IB700 with the spec's action, and the default guest is told to pet it.
TEST(VmNic, VmmConfigCarriesTheWatchdogAndTellsTheGuest) {
  InstanceSpec spec;
  spec.name = "vm1";
  spec.type = InstanceType::Vm;
  spec.watchdog = vmm::WatchdogAction::Poweroff;
  BootSource boot;
  boot.kernel = "/images/vmlinuz";
  boot.cmdline = "console=ttyS0 -- /bin/sh";
  auto c = vmm_config(spec, boot);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->watchdog);
  EXPECT_EQ(c->watchdog->action, vmm::WatchdogAction::Poweroff);
  EXPECT_EQ(c->boot_source->boot_args, "console=ttyS0 vessel.watchdog=ib700 -- /bin/sh");
  spec.watchdog.reset();
  EXPECT_FALSE(vmm_config(spec, boot)->watchdog);
}

// The ip_config function of guest/init.sh, run by busybox sh on a command line.
std::string guest_ip_config(const std::string& cmdline) {
  auto init = read_file(VESSEL_SOURCE_DIR "/guest/init.sh");
  if (!init) return "no init.sh";
  auto begin = init->find("# vessel-net-begin"), end = init->find("# vessel-net-end");
  if (begin == std::string::npos || end == std::string::npos) return "no markers";
  std::string script = init->substr(begin, end - begin) + "\nip_config \"$1\"\n";
  char tmpl[] = "/tmp/vessel-out.XXXXXX";
  Fd out(::mkstemp(tmpl));
  ::unlink(tmpl);
  SpawnOptions options;
  options.stdout_fd = out.get();
  auto p = Process::spawn({"/bin/busybox", "sh", "-c", script, "sh", cmdline}, options);
  if (!p) return p.error().to_string();
  (void)p->wait();
  std::string text(256, '\0');
  auto n = ::pread(out.get(), text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return text;
}

TEST(VmNic, TheDefaultGuestsInitReadsTheIpArgument) {
  if (::access("/bin/busybox", X_OK) != 0) GTEST_FAIL() << "busybox-static is needed (scripts/packages.txt)";
  auto nic = vm_nic("vx1", "vbr-1", ipv4("10.89.0.3"), ipv4("10.89.0.1"), 24);
  EXPECT_EQ(guest_ip_config(with_kernel_arg("console=ttyS0 quiet -- /bin/sh", nic.ip_arg)), "10.89.0.3/24 10.89.0.1 eth0\n");
  EXPECT_EQ(guest_ip_config("console=ttyS0 ip=10.0.0.5::10.0.0.1:255.255.255.240::eth1:off"), "10.0.0.5/28 10.0.0.1 eth1\n");
  EXPECT_EQ(guest_ip_config("console=ttyS0 -- echo ip=1.2.3.4::1.2.3.1:255.0.0.0::eth0:off"), "");  // the command's, not ours
  EXPECT_EQ(guest_ip_config("console=ttyS0"), "");
  EXPECT_EQ(guest_ip_config("ip=10.0.0.5::10.0.0.1:255.0.255.0::eth0:off"), "");  // not a netmask
}

}  // namespace
}  // namespace vessel::daemon
