// What the host check knows about a machine's ability to run VMs: plain recorded facts (CPUID,
// the kernel's command line, release and log, /sys/module, /dev/kvm and what it answered). The
// probe gathers them and does nothing else; assess_kvm() (kvm_assess.h) decides from them alone,
// so unit tests replay the facts of machines they do not run on.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hostcheck/cpuid.h"

namespace vessel::hostcheck {

// One step of the /dev/kvm probe. Steps after a failed one are not tried.
struct ProbeStep {
  bool tried = false;
  int errnum = 0;
  std::string error;  // empty: it worked
  bool ok() const { return tried && error.empty(); }
  static ProbeStep success() { return {true, 0, ""}; }
  static ProbeStep failure(int errnum, std::string error) {
    return {true, errnum, std::move(error)};
  }
};

struct DevKvmFacts {
  bool exists = false;  // stat("/dev/kvm") worked
  bool char_device = false;
  unsigned major = 0, minor = 0, mode = 0, uid = 0, gid = 0;
  ProbeStep open;         // open(O_RDWR)
  ProbeStep api_version;  // KVM_GET_API_VERSION == 12
  std::map<long, int>
      extensions;       // KVM_CHECK_EXTENSION answers (cap -> value), after the API check
  ProbeStep create_vm;  // KVM_CREATE_VM: the decisive one
};

struct KernelFacts {
  std::string release;                // uname -r
  std::string cmdline;                // /proc/cmdline
  bool modules_dir = false;           // /lib/modules/<release> exists
  std::set<std::string> sys_modules;  // which of kvm, kvm_intel, kvm_amd, kvm_pvm /sys/module has
  // The kernel log's lines that mention KVM (text only, no level or time stamp); nullopt when the
  // log cannot be read here (not root with kernel.dmesg_restrict=1).
  std::optional<std::vector<std::string>> log;
};

struct HostFacts {
  CpuInfo cpu;
  KernelFacts kernel;
  DevKvmFacts kvm;
};

// The KVM device's numbers (misc 10:232 on every Linux).
inline constexpr unsigned kKvmMajor = 10, kKvmMinor = 232;

// Reads this machine's facts. Creates (and closes) one empty VM when /dev/kvm answers.
HostFacts gather_host_facts();

}  // namespace vessel::hostcheck
