// Slow: the default Linux guest (guest/build-default-guest.sh) booted by `vessel run --vm`
// --attach, its command's output followed, then `vessel stop`: Ctrl+Alt+Del through vessel-vmm's
// i8042 reaches the guest's init, which ends the command and powers off. The VM is recorded as
// stopped by a poweroff, exit status 0, and the attached CLI ends with that status.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "base/fd.h"
#include "daemon_fixture.h"

namespace vessel::test {
namespace {

std::string vmm() {
  const char* env = ::getenv("VESSEL_TEST_VMM");
  return env && *env ? env : VESSEL_VMM_PATH;
}

std::string tail(const std::string& s, size_t n = 4000) { return s.size() > n ? s.substr(s.size() - n) : s; }

TEST(LinuxGuest, RunsACommandAndStopsCleanlyThroughCtrlAltDel) {
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
                              dir + "/initramfs.cpio", "--cmdline",
                              boot_args + " quiet -- echo hello-from-linux; sleep 100000; echo not-reached"});
  ASSERT_EQ(image.status, 0) << image.err;

  auto started = std::chrono::steady_clock::now();
  Fd out(::memfd_create("attach-out", MFD_CLOEXEC));
  ASSERT_TRUE(out);
  SpawnOptions o;
  o.stdout_fd = out.get();
  auto attach = Process::spawn({vessel_path(), "--socket", daemon.socket(), "run", "--vm", "--attach", "--name", "linux",
                                "--memory", "512M", "linux"},
                               o);
  ASSERT_TRUE(attach.has_value()) << attach.error().to_string();
  auto output = [&] { return read_file(fmt::format("/proc/self/fd/{}", out.get())).value_or(""); };
  // A stock kernel's ring-0 code is emulated on PVM hosts: the boot takes many minutes there; with
  // hardware KVM it takes under a second, in the nested TCG host ~15 s.
  bool pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
  auto budget = std::chrono::minutes(pvm ? 50 : 10);
  bool up = false;
  while (!up && std::chrono::steady_clock::now() - started < budget && alive(attach->pid())) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    up = output().find("\nhello-from-linux") != std::string::npos;
  }
  auto boot_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(up) << "no output from the guest's command after " << boot_s << " s:\n" << tail(output()) << daemon.log();
  std::printf("the Linux guest ran its command %lld s after `vessel run`\n", static_cast<long long>(boot_s));

  // `vessel exec` into the VM: through its vsock device and the guest's vessel-agent.
  while (output().find("vessel-agent: listening") == std::string::npos &&
         std::chrono::steady_clock::now() - started < budget)
    std::this_thread::sleep_for(std::chrono::seconds(1));
  auto cli_timeout = std::chrono::seconds(pvm ? 900 : 120);
  auto uname = run({vessel_path(), "--socket", daemon.socket(), "exec", "linux", "--", "uname", "-r"}, cli_timeout);
  EXPECT_EQ(uname.status, 0) << uname.err << daemon.log();
  EXPECT_NE(uname.out.find("-amd64\n"), std::string::npos) << uname.out;
  auto failing = run({vessel_path(), "--socket", daemon.socket(), "exec", "linux", "--", "sh", "-c", "echo to-stderr >&2; exit 5"},
                     cli_timeout);
  EXPECT_EQ(failing.status, 5) << failing.err;
  EXPECT_NE(failing.err.find("to-stderr"), std::string::npos) << failing.err;
  auto tty = run({vessel_path(), "--socket", daemon.socket(), "exec", "-t", "linux", "--", "tty"}, cli_timeout);
  EXPECT_EQ(tty.status, 0) << tty.err;
  EXPECT_NE(tty.out.find("/dev/pts/"), std::string::npos) << tty.out;  // a terminal in the guest

  auto stop_started = std::chrono::steady_clock::now();
  // The emulated guest takes a while to stop its command and power off (28 s measured on PVM).
  auto stop = run({vessel_path(), "--socket", daemon.socket(), "stop", "--timeout", pvm ? "900" : "120", "linux"},
                  std::chrono::seconds(pvm ? 1000 : 200));
  EXPECT_EQ(stop.status, 0) << stop.err;
  auto ended = attach->wait();
  auto stop_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - stop_started).count();
  std::printf("`vessel stop` (Ctrl+Alt+Del) took %lld s\n", static_cast<long long>(stop_s));
  ASSERT_TRUE(ended.has_value());
  EXPECT_TRUE(ended->success()) << ended->to_string() << "\n" << tail(output());
  std::string text = output();
  EXPECT_NE(text.find("Ctrl+Alt+Del: stopping"), std::string::npos) << tail(text);
  EXPECT_NE(text.find("command exited with status 143"), std::string::npos) << tail(text);  // SIGTERM
  EXPECT_EQ(text.find("\nnot-reached"), std::string::npos);
  auto vm = daemon.vessel_json({"inspect", "linux"});
  EXPECT_EQ(vm.value("state", ""), "stopped");
  EXPECT_EQ(vm["exit_code"], 0) << vm.dump();
  EXPECT_EQ(vm.value("exit_reason", ""), "poweroff") << vm.dump();  // not "killed": the guest shut down
}

}  // namespace
}  // namespace vessel::test
