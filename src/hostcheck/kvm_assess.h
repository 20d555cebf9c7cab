// The host check's judgement of KVM: a pure function of recorded facts (host_facts.h). It says
// which KVM flavour really serves /dev/kvm (only one that could create a VM counts), whether
// kvm_pvm is there but not bound and why, and what to do when VMs cannot run, fitted to the facts
// (no modprobe advice for a kernel that cannot load modules).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hostcheck/check.h"
#include "hostcheck/host_facts.h"

namespace vessel::hostcheck {

enum class PvmState {
  Absent,      // no /sys/module/kvm_pvm
  Bound,       // kvm_pvm serves /dev/kvm: a VM could be created
  NotBound,    // kvm_pvm is there but /dev/kvm does not work through it
  Unverified,  // kvm_pvm is there, but this user may not open /dev/kvm to find out
};
std::string_view to_string(PvmState state);  // "absent", "bound", "not bound", "unverified"

struct KvmAssessment {
  std::vector<Check> checks;  // the report's "cpu" and "kvm" sections
  std::string flavour =
      "none";  // kvm_intel, kvm_amd, kvm_pvm, "kvm (vendor module unknown)" or none
  PvmState pvm = PvmState::Absent;
  std::string pvm_reason;  // why kvm_pvm is not bound: its kernel log line, or why that is unknown
  bool modules_loadable = false;  // could modprobe add a module to this kernel?
  std::string modules_why_not;  // "nomodule on the kernel command line; no /lib/modules/<release>"
  std::vector<std::string> advice;  // what to do, when VMs cannot run here; empty when they can
};

KvmAssessment assess_kvm(const HostFacts& facts);

// Where vessel's nested KVM host is (docs/kvm-host.md), for the advice.
inline constexpr const char* kNestedKvmHost = "scripts/kvm-host";

}  // namespace vessel::hostcheck
