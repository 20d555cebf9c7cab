#include "hostcheck/host_facts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include "base/fd.h"
#include "hostcheck/kernel_log.h"
#include "hostcheck/kvm_caps.h"
#include "kvm/kvm.h"

namespace vessel::hostcheck {

namespace {

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

KernelFacts gather_kernel() {
  KernelFacts k;
  struct utsname u {};
  if (::uname(&u) == 0) k.release = u.release;
  auto cmdline = read_file("/proc/cmdline");
  if (cmdline) {
    k.cmdline = *cmdline;
    while (!k.cmdline.empty() && k.cmdline.back() == '\n') k.cmdline.pop_back();
  }
  k.modules_dir = !k.release.empty() && exists("/lib/modules/" + k.release);
  for (const char* m : {"kvm", "kvm_intel", "kvm_amd", "kvm_pvm"})
    if (exists(std::string("/sys/module/") + m)) k.sys_modules.insert(m);
  k.log = read_kvm_log_lines();
  return k;
}

ProbeStep step_of(const Error& e) { return ProbeStep::failure(e.errnum(), e.to_string()); }

// Each KVM ioctl goes through src/kvm (the one place that issues them).
void probe_ioctls(DevKvmFacts& d) {
  auto sys = kvm::System::open();
  if (!sys) {
    d.api_version = step_of(sys.error());
    return;
  }
  d.api_version = ProbeStep::success();
  for (const auto& c : kKvmCaps) d.extensions[c.cap] = sys->check_extension(c.cap);
  auto vm = sys->create_vm();
  d.create_vm = vm ? ProbeStep::success() : step_of(vm.error());
}

DevKvmFacts gather_dev_kvm() {
  DevKvmFacts d;
  struct stat st {};
  if (::stat("/dev/kvm", &st) != 0) return d;
  d.exists = true;
  d.char_device = S_ISCHR(st.st_mode);
  d.major = major(st.st_rdev);
  d.minor = minor(st.st_rdev);
  d.mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  auto rw = Fd::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (!rw) {
    d.open = step_of(rw.error());
    return d;
  }
  d.open = ProbeStep::success();
  probe_ioctls(d);
  return d;
}

}  // namespace

HostFacts gather_host_facts() {
  HostFacts f;
  f.cpu = decode_cpu(native_cpuid);
  f.kernel = gather_kernel();
  f.kvm = gather_dev_kvm();
  return f;
}

}  // namespace vessel::hostcheck
