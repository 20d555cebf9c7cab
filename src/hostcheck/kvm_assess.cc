#include "hostcheck/kvm_assess.h"

#include <fmt/format.h>

#include <cerrno>
#include <sstream>

#include "hostcheck/kvm_caps.h"

namespace vessel::hostcheck {

std::string_view to_string(PvmState state) {
  switch (state) {
    case PvmState::Absent:
      return "absent";
    case PvmState::Bound:
      return "bound";
    case PvmState::NotBound:
      return "not bound";
    case PvmState::Unverified:
      return "unverified";
  }
  return "absent";
}

namespace {

bool has_module(const HostFacts& f, const char* m) { return f.kernel.sys_modules.count(m) != 0; }
bool hardware_virt(const HostFacts& f) { return f.cpu.vmx || f.cpu.svm; }
const char* hardware_module(const HostFacts& f) { return f.cpu.vmx ? "kvm_intel" : "kvm_amd"; }
bool permission_denied(const ProbeStep& s) {
  return s.tried && (s.errnum == EACCES || s.errnum == EPERM);
}

bool is_kvm_device(const DevKvmFacts& d) {
  return d.exists && d.char_device && d.major == kKvmMajor && d.minor == kKvmMinor;
}

bool required_caps_present(const DevKvmFacts& d) {
  for (const auto& c : kKvmCaps) {
    auto it = d.extensions.find(c.cap);
    if (c.required && (it == d.extensions.end() || it->second <= 0)) return false;
  }
  return true;
}

// Only a module through which a VM could really be created counts as the flavour.
std::string bound_flavour(const HostFacts& f) {
  if (!f.kvm.create_vm.ok()) return "none";
  if (f.cpu.vmx && has_module(f, "kvm_intel")) return "kvm_intel";
  if (f.cpu.svm && has_module(f, "kvm_amd")) return "kvm_amd";
  if (has_module(f, "kvm_pvm"))
    return "kvm_pvm";  // no VMX/SVM visible: the hardware modules cannot serve
  if (has_module(f, "kvm_intel")) return "kvm_intel";
  if (has_module(f, "kvm_amd")) return "kvm_amd";
  return "kvm (vendor module unknown)";
}

std::vector<std::string> cmdline_words(const std::string& cmdline) {
  std::vector<std::string> words;
  std::istringstream in(cmdline);
  std::string w;
  while (in >> w && w != "--") words.push_back(w);  // after "--": arguments for init
  return words;
}

void assess_modules(const HostFacts& f, KvmAssessment& a) {
  std::vector<std::string> why;
  for (const auto& w : cmdline_words(f.kernel.cmdline))
    if (w == "nomodule") why.push_back("nomodule on the kernel command line");
  if (!f.kernel.modules_dir) why.push_back(fmt::format("no /lib/modules/{}", f.kernel.release));
  a.modules_loadable = why.empty();
  for (const auto& w : why) a.modules_why_not += (a.modules_why_not.empty() ? "" : "; ") + w;
}

// Why kvm_pvm is not bound: its own kernel log line says it best.
std::string pvm_reason(const HostFacts& f, const std::string& flavour) {
  if (flavour != "none") return flavour + " serves /dev/kvm";
  if (!f.kernel.log) return "unknown: the kernel log cannot be read here (run as root to see why)";
  const std::vector<std::string>& log = *f.kernel.log;
  for (const auto& line : log)
    if ((line.find("kvm-pvm") != std::string::npos || line.find("kvm_pvm") != std::string::npos) &&
        line.find("not bind") != std::string::npos)
      return "the kernel log says \"" + line + "\"";
  for (const auto& line : log)
    if (line.rfind("kvm-pvm: loaded", 0) == 0)
      return "it loaded (the kernel log says \"" + line +
             "\"), but /dev/kvm does not work through it";
  return "unknown: the kernel log does not say";
}

void assess_pvm(const HostFacts& f, KvmAssessment& a) {
  if (!has_module(f, "kvm_pvm")) return;
  a.pvm = a.flavour == "kvm_pvm"          ? PvmState::Bound
          : permission_denied(f.kvm.open) ? PvmState::Unverified
                                          : PvmState::NotBound;
  if (a.pvm == PvmState::NotBound) a.pvm_reason = pvm_reason(f, a.flavour);
}

std::string hypervisor_text(const CpuInfo& cpu) {
  if (!cpu.hypervisor) return "no (bare metal)";
  if (cpu.hypervisor_vendor.empty()) return "yes (unknown)";
  std::string name = hypervisor_name(cpu.hypervisor_vendor);
  return name == cpu.hypervisor_vendor
             ? "yes (" + name + ")"
             : fmt::format("yes ({}; CPUID signature \"{}\")", name, cpu.hypervisor_vendor);
}

void cpu_checks(const HostFacts& f, const KvmAssessment& a, std::vector<Check>& out) {
  const CpuInfo& cpu = f.cpu;
  out.push_back({"cpu", "vendor",
                 cpu.vendor + (cpu.model_name.empty() ? "" : " (" + cpu.model_name + ")"), true,
                 false, false, ""});
  std::string note;
  if (!hardware_virt(f))
    note = a.pvm == PvmState::Bound ? "the CPU does not expose VMX/SVM to this kernel; KVM works "
                                      "here through kvm_pvm, in software"
                                    : "the CPU does not expose VMX/SVM to this kernel: only a "
                                      "software flavour (kvm_pvm) could run VMs here";
  out.push_back({"cpu", "hardware virtualization",
                 cpu.vmx   ? "VT-x (vmx)"
                 : cpu.svm ? "AMD-V (svm)"
                           : "none visible",
                 hardware_virt(f), false, false, note});
  out.push_back({"cpu", "running under a hypervisor", hypervisor_text(cpu), true, false, false,
                 cpu.hypervisor ? "VMs started here are nested guests" : ""});
}

// Why there is no usable KVM device, from what the machine shows: the note on /dev/kvm.
std::string why_no_kvm(const HostFacts& f, const KvmAssessment& a) {
  if (!hardware_virt(f)) {
    if (a.pvm == PvmState::NotBound)
      return "no VMX/SVM visible, and kvm_pvm did not bind: " + a.pvm_reason;
    return "no VMX/SVM visible, and this kernel has no software KVM (kvm_pvm)";
  }
  const char* m = hardware_module(f);
  if (has_module(f, m)) return fmt::format("{} is loaded but there is no device node", m);
  if (a.modules_loadable) return fmt::format("{} is not loaded", m);
  return fmt::format("{} is not loaded, and this kernel cannot load modules ({})", m,
                     a.modules_why_not);
}

std::string dev_kvm_value(const DevKvmFacts& d) {
  if (!d.exists) return "missing";
  if (!d.char_device) return "not a character device";
  return fmt::format("char {}:{} mode {:04o} uid {} gid {}", d.major, d.minor, d.mode, d.uid,
                     d.gid);
}

std::string open_note(const HostFacts& f, const KvmAssessment& a) {
  int e = f.kvm.open.errnum;
  if (e == EACCES || e == EPERM)
    return fmt::format("run as root or add your user to the group owning /dev/kvm (gid {})",
                       f.kvm.gid);
  if (e == ENXIO || e == ENODEV) return "no KVM module serves the device: " + why_no_kvm(f, a);
  return "";
}

std::string create_vm_note(const HostFacts& f, const KvmAssessment& a) {
  if (!hardware_virt(f)) return why_no_kvm(f, a);
  return "is VT-x/AMD-V enabled in the firmware? the kernel log (dmesg | grep -i kvm) says why";
}

void ioctl_checks(const HostFacts& f, const KvmAssessment& a, std::vector<Check>& out) {
  const DevKvmFacts& d = f.kvm;
  if (!d.api_version.tried) return;
  out.push_back({"kvm", "API version",
                 d.api_version.ok() ? std::to_string(KVM_API_VERSION) : d.api_version.error,
                 d.api_version.ok(), true, false,
                 d.api_version.ok() || d.api_version.error.find("need 12") != std::string::npos
                     ? ""
                     : "vessel needs KVM API version 12"});
  if (!d.api_version.ok()) return;
  int max_vcpus = 0, nr_vcpus = 0;
  for (const auto& c : kKvmCaps) {
    auto it = d.extensions.find(c.cap);
    int v = it == d.extensions.end() ? 0 : it->second;
    if (c.cap == KVM_CAP_MAX_VCPUS)
      max_vcpus = v;
    else if (c.cap == KVM_CAP_NR_VCPUS)
      nr_vcpus = v;
    else
      out.push_back(
          {"kvm", c.name, v > 0 ? "yes" : "no", v > 0, c.required, false, v > 0 ? "" : c.why});
  }
  out.push_back({"kvm", "max vCPUs", fmt::format("{} (recommended {})", max_vcpus, nr_vcpus),
                 max_vcpus > 0, false, false, ""});
  if (!d.create_vm.tried) return;
  out.push_back({"kvm", "create a VM", d.create_vm.ok() ? "ok" : "failed: " + d.create_vm.error,
                 d.create_vm.ok(), true, false, d.create_vm.ok() ? "" : create_vm_note(f, a)});
}

void dev_kvm_checks(const HostFacts& f, const KvmAssessment& a, std::vector<Check>& out) {
  const DevKvmFacts& d = f.kvm;
  std::string note;
  if (!d.exists)
    note = why_no_kvm(f, a);
  else if (!is_kvm_device(d))
    note = fmt::format("not the KVM device, which is char {}:{}", kKvmMajor, kKvmMinor);
  out.push_back({"kvm", "/dev/kvm", dev_kvm_value(d), is_kvm_device(d), true, false, note});
  if (!d.open.tried) return;
  out.push_back({"kvm", "open /dev/kvm read-write", d.open.ok() ? "ok" : d.open.error, d.open.ok(),
                 true, false, d.open.ok() ? "" : open_note(f, a)});
  if (d.open.ok()) ioctl_checks(f, a, out);
}

std::string flavour_note(const HostFacts& f, const KvmAssessment& a) {
  if (a.flavour == "kvm_pvm")
    return "PVM: KVM runs in software on a host without hardware virtualization exposed (nested). "
           "Guest ring-3 code runs at native speed, but an unmodified guest kernel's ring-0 code "
           "is emulated instruction by instruction (~1 us each), and KVM's emulator gives up on "
           "some instructions, which vessel-vmm traps and emulates. Expect a stock Linux boot to "
           "take minutes here; small guests and user-space work run fast.";
  if (a.flavour == "kvm_intel" || a.flavour == "kvm_amd") {
    if (f.cpu.hypervisor && hypervisor_name(f.cpu.hypervisor_vendor) == "QEMU TCG")
      return "hardware-assisted KVM on a CPU that QEMU emulates in software (TCG): everything "
             "here, the "
             "guests included, runs at emulation speed";
    return "hardware-assisted: guests run at native speed";
  }
  if (a.flavour == "none" && permission_denied(f.kvm.open))
    return "which KVM flavour serves /dev/kvm is unknown: this user may not open it";
  if (a.flavour == "none") return "no KVM flavour serves /dev/kvm here";
  return "";
}

void module_checks(const HostFacts& f, const KvmAssessment& a, std::vector<Check>& out) {
  if (a.pvm != PvmState::Absent)
    out.push_back({"kvm", "kvm_pvm",
                   a.pvm == PvmState::Bound ? "bound" : "present, " + std::string(to_string(a.pvm)),
                   a.pvm != PvmState::NotBound, false, false,
                   a.pvm == PvmState::Unverified
                       ? "whether it serves /dev/kvm is unknown: this user may not open it"
                       : a.pvm_reason});
  out.push_back({"kvm", "kernel modules",
                 a.modules_loadable ? "loadable" : "not loadable: " + a.modules_why_not, true,
                 false, false,
                 a.modules_loadable ? "" : "no KVM module can be loaded into this kernel"});
  std::string value = a.flavour;
  if (a.flavour == "none" && (a.pvm == PvmState::NotBound || a.pvm == PvmState::Unverified))
    value += " (kvm_pvm present, " + std::string(to_string(a.pvm)) + ")";
  out.push_back(
      {"kvm", "module flavour", value, a.flavour != "none", false, false, flavour_note(f, a)});
}

// ---- what to do -----------------------------------------------------------------------------

std::string nested_host_advice() {
  return fmt::format(
      "for development and tests: run the VMs (and the kvm tests) in vessel's nested KVM host, {} "
      "in the "
      "source tree (QEMU's software CPU with AMD-V; everything in it runs at emulation speed; "
      "docs/kvm-host.md)",
      kNestedKvmHost);
}

std::string hardware_host_advice(const HostFacts& f) {
  std::string where = "bare metal, or a VM whose hypervisor exposes nested virtualization";
  if (f.cpu.hypervisor && !f.cpu.hypervisor_vendor.empty())
    where += fmt::format(" (this one runs under {}, which does not)",
                         hypervisor_name(f.cpu.hypervisor_vendor));
  return "run VMs on a host whose CPU shows VT-x or AMD-V: " + where;
}

// The one thing to fix first, from the first step of the probe that failed; empty if none fits.
std::string first_fix(const HostFacts& f, const KvmAssessment& a) {
  const DevKvmFacts& d = f.kvm;
  const char* m = hardware_module(f);
  if (!d.exists) {
    if (!hardware_virt(f)) return "";
    if (has_module(f, m))
      return "create the device node: mknod -m 0660 /dev/kvm c 10 232 (udev normally does)";
    if (a.modules_loadable) return fmt::format("load the KVM module for this CPU: modprobe {}", m);
    return fmt::format(
        "boot a kernel that has {} (built in, or with its modules in /lib/modules/<release>)", m);
  }
  if (!is_kvm_device(d))
    return fmt::format(
        "/dev/kvm is {}, not the KVM device: remove it (devtmpfs provides char {}:{})",
        dev_kvm_value(d), kKvmMajor, kKvmMinor);
  if (d.open.tried && !d.open.ok() && (d.open.errnum == EACCES || d.open.errnum == EPERM))
    return open_note(f, a);
  if (d.api_version.ok() && !required_caps_present(d))
    return "this kernel's KVM lacks capabilities vessel needs (see above): use a newer kernel";
  if (d.create_vm.tried && !d.create_vm.ok() && hardware_virt(f)) return create_vm_note(f, a);
  return "";
}

std::vector<std::string> advice(const HostFacts& f, const KvmAssessment& a) {
  const DevKvmFacts& d = f.kvm;
  if (d.create_vm.ok() && required_caps_present(d) && is_kvm_device(d)) return {};
  std::vector<std::string> out;
  if (auto fix = first_fix(f, a); !fix.empty()) out.push_back(fix);
  // A permission problem says nothing about KVM itself: its fix is the whole advice.
  bool dead_end = !permission_denied(d.open) &&
                  (!hardware_virt(f) ||
                   (!d.exists && !has_module(f, hardware_module(f)) && !a.modules_loadable));
  if (dead_end) {
    if (!hardware_virt(f)) out.push_back(hardware_host_advice(f));
    out.push_back(nested_host_advice());
  }
  return out;
}

}  // namespace

KvmAssessment assess_kvm(const HostFacts& f) {
  KvmAssessment a;
  a.flavour = bound_flavour(f);
  assess_modules(f, a);
  assess_pvm(f, a);
  cpu_checks(f, a, a.checks);
  dev_kvm_checks(f, a, a.checks);
  module_checks(f, a, a.checks);
  a.advice = advice(f, a);
  return a;
}

}  // namespace vessel::hostcheck
