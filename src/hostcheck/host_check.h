// `vessel host check`: can this machine run vessel's VMs and containers, and how well?
// Probes the CPU, /dev/kvm and its capabilities and module flavour, cgroups, namespaces,
// overlayfs, tun, KSM, userfaultfd and io_uring, then prints a table (or JSON) and a verdict.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "hostcheck/check.h"
#include "hostcheck/cpuid.h"
#include "hostcheck/host_facts.h"

namespace vessel::hostcheck {

struct Report {
  CpuInfo cpu;
  std::vector<Check> checks;
  bool vms_ok = false;
  bool containers_ok = false;
  std::vector<std::string> vm_problems;         // why VMs cannot run
  std::vector<std::string> container_problems;  // why containers cannot run
  // The KVM module that serves /dev/kvm, only when a VM could be created through it: "kvm_intel",
  // "kvm_amd", "kvm_pvm", "kvm (vendor module unknown)"; "none" otherwise.
  std::string kvm_flavour = "none";
  std::string kvm_pvm_state = "absent";  // "absent", "bound", "not bound", "unverified" (kvm_assess.h)
  std::string kvm_pvm_reason;                   // why kvm_pvm is not bound
  bool modules_loadable = false;                // could modprobe add a module to this kernel?
  std::string modules_why_not;
  std::vector<std::string> vm_advice;           // what to do when VMs cannot run here
  nlohmann::json to_json() const;
  std::string to_table(bool color) const;
};

// Probes the real machine: CPU, KVM, containers, extras.
Report probe();

// The CPU and KVM part only (what VMs need): cheap enough to run before every VM start.
Report probe_vms();

// The CPU and KVM part of a report from recorded facts, with its verdict; pure (for tests).
Report report_from(const HostFacts& facts);

// Applies the verdict rules to a list of checks (exposed for tests).
void decide(Report& report);

struct Options {
  bool json = false;
};

// Prints the report; returns the exit status: 0 when VMs and containers can run, 1 otherwise.
int run(const Options& options);

}  // namespace vessel::hostcheck
